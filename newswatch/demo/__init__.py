"""The bundled demo: a local news site (`newswatch.demo.site.NewsSite`) with synthetic
space-policy articles, so the whole pipeline runs offline from a fresh clone."""
