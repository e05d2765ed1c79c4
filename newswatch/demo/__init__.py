"""The bundled demo: a small local news site (`newswatch.demo.site.DemoSite`) with synthetic
space-policy articles, so the whole pipeline runs offline from a fresh clone."""
