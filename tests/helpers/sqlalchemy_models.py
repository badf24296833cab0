"""The models the SQLAlchemy bridge's tests use: posts, tags (many-to-many), comments."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Table, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from reqsignals.contrib.sqlalchemy import connect_models


class Base(DeclarativeBase):
    pass


connect_models(Base)

post_tags = Table(
    "post_tags",
    Base.metadata,
    Column("post_id", ForeignKey("post.id"), primary_key=True),
    Column("tag_id", ForeignKey("tag.id"), primary_key=True),
)


class Author(Base):
    __tablename__ = "author"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(unique=True)
    posts: Mapped[list[Post]] = relationship(back_populates="author")


class Post(Base):
    __tablename__ = "post"
    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str]
    slug: Mapped[str | None]
    body: Mapped[str] = mapped_column(default="")
    author_id: Mapped[int | None] = mapped_column(ForeignKey("author.id"))
    author: Mapped[Author | None] = relationship(back_populates="posts")
    tags: Mapped[list[Tag]] = relationship(secondary=post_tags, back_populates="posts")
    comments: Mapped[list[Comment]] = relationship(
        back_populates="post", cascade="all, delete-orphan"
    )


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    posts: Mapped[list[Post]] = relationship(secondary=post_tags, back_populates="tags")


class Comment(Base):
    __tablename__ = "comment"
    __table_args__ = (UniqueConstraint("post_id", "text"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str]
    post_id: Mapped[int] = mapped_column(ForeignKey("post.id"))
    post: Mapped[Post] = relationship(back_populates="comments")


class Audit(Base):
    __tablename__ = "audit"
    id: Mapped[int] = mapped_column(primary_key=True)
    what: Mapped[str]


class FeaturedPost(Post):
    """Joined-table inheritance: a subclass mapped under Post."""

    __tablename__ = "featured_post"
    id: Mapped[int] = mapped_column(ForeignKey("post.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(default="")
