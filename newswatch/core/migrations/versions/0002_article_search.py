"""archive search index: article_search (folded words) + SQLite FTS5 / PostgreSQL GIN

The words are folded in Python (alerts/text.py), so both databases index exactly the words
the matcher sees: the SQLite FTS5 tokenizer only splits at spaces (every category but Z* is
a token character, no diacritic removal), and PostgreSQL builds its tsvector from the words
as they are (array_to_tsvector, no parser, no dictionary). A trigger deletes a row when its
article's title or text changes; the next search re-indexes it.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

FTS_TOKENIZER = "unicode61 remove_diacritics 0 categories 'L* M* N* P* S* C*'"


def upgrade() -> None:
    op.create_table(
        "article_search",
        sa.Column("article_id", sa.Integer(), nullable=False),
        sa.Column("title_words", sa.Text(), nullable=False),
        sa.Column("text_words", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["article_id"], ["articles.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("article_id"),
    )
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE article_search_fts USING fts5(title_words, text_words, "
            "content='article_search', content_rowid='article_id', "
            f'tokenize="{FTS_TOKENIZER}")'
        )
        op.execute(
            "CREATE TRIGGER article_search_ai AFTER INSERT ON article_search BEGIN "
            "INSERT INTO article_search_fts(rowid, title_words, text_words) "
            "VALUES (new.article_id, new.title_words, new.text_words); END"
        )
        op.execute(
            "CREATE TRIGGER article_search_ad AFTER DELETE ON article_search BEGIN "
            "INSERT INTO article_search_fts(article_search_fts, rowid, title_words, text_words) "
            "VALUES ('delete', old.article_id, old.title_words, old.text_words); END"
        )
        op.execute(
            "CREATE TRIGGER article_search_au AFTER UPDATE ON article_search BEGIN "
            "INSERT INTO article_search_fts(article_search_fts, rowid, title_words, text_words) "
            "VALUES ('delete', old.article_id, old.title_words, old.text_words); "
            "INSERT INTO article_search_fts(rowid, title_words, text_words) "
            "VALUES (new.article_id, new.title_words, new.text_words); END"
        )
        op.execute(
            "CREATE TRIGGER articles_search_stale AFTER UPDATE OF title, text ON articles "
            "WHEN old.title IS NOT new.title OR old.text IS NOT new.text BEGIN "
            "DELETE FROM article_search WHERE article_id = old.id; END"
        )
        op.execute(
            "CREATE TRIGGER articles_search_gone AFTER DELETE ON articles BEGIN "
            "DELETE FROM article_search WHERE article_id = old.id; END"
        )
    else:
        for column in ("title_words", "text_words"):
            op.execute(
                f"CREATE INDEX ix_article_search_{column} ON article_search "
                f"USING gin (array_to_tsvector(string_to_array({column}, ' ')))"
            )
        op.execute(
            "CREATE FUNCTION article_search_stale() RETURNS trigger LANGUAGE plpgsql AS $$ "
            "BEGIN DELETE FROM article_search WHERE article_id = OLD.id; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER articles_search_stale AFTER UPDATE OF title, text ON articles FOR EACH ROW "
            "WHEN (OLD.title IS DISTINCT FROM NEW.title OR OLD.text IS DISTINCT FROM NEW.text) "
            "EXECUTE FUNCTION article_search_stale()"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in (
            "articles_search_gone",
            "articles_search_stale",
            "article_search_au",
            "article_search_ad",
            "article_search_ai",
        ):
            op.execute(f"DROP TRIGGER IF EXISTS {trigger}")
        op.execute("DROP TABLE IF EXISTS article_search_fts")
    else:
        op.execute("DROP TRIGGER IF EXISTS articles_search_stale ON articles")
        op.execute("DROP FUNCTION IF EXISTS article_search_stale()")
    op.drop_table("article_search")
