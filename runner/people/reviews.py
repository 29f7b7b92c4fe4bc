"""Assessors' reviews of a graded run: notes, and score overrides with a mandatory reason.

Reviews are appended, never edited: the graded result in the run stays as the graders left
it, and the score shown to people is the newest override's, else the graded one. Each review
is also written to the audit log with who and when.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Float, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from prodproven.runner.errors import ReviewError, RunStateError
from prodproven.runner.people.audit import Audit
from prodproven.runner.runs.store import Base, Run, Status, Store, utcnow

MIN_REASON = 10
MAX_TEXT = 10_000
"""The longest note or override reason (characters)."""


class ReviewRow(Base):
    __tablename__ = "reviews"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[str] = mapped_column(ForeignKey("runs.id"), index=True)
    author: Mapped[str] = mapped_column(String(254))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    score: Mapped[float | None] = mapped_column(Float)
    previous_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column()


@dataclass(frozen=True)
class Review:
    id: int
    run_id: str
    author: str
    kind: str
    """``note`` or ``override``."""
    text: str
    """The note, or the override's reason."""
    score: float | None
    previous_score: float | None
    created_at: datetime

    @classmethod
    def from_row(cls, row: ReviewRow) -> Review:
        return cls(**{f: getattr(row, f) for f in cls.__dataclass_fields__})


@dataclass(frozen=True)
class EffectiveScore:
    score: float | None
    graded: float | None
    override: Review | None


def effective(run: Run, reviews: list[Review]) -> EffectiveScore:
    """The score people see: the newest override's among ``reviews`` (oldest first), else the
    graded one."""
    overrides = [r for r in reviews if r.kind == "override"]
    last = overrides[-1] if overrides else None
    return EffectiveScore(
        score=last.score if last is not None else run.score, graded=run.score, override=last
    )


class Reviews:
    def __init__(self, store: Store, audit: Audit) -> None:
        self.store = store
        self.audit = audit

    def note(self, run_id: str, author: str, text: str) -> Review:
        """Raises ReviewError for an empty note."""
        if not text.strip():
            raise ReviewError("a note needs some text")
        _check_length(text.strip(), "a note")
        self.store.get(run_id)
        with self.store.session() as s:
            review = _add(s, run_id, author, "note", text.strip(), None, None)
        self.audit.record(author, "review.note", run_id, {"review": review.id})
        return review

    def override(self, run_id: str, author: str, score: float, reason: str) -> Review:
        """Set the run's production-proven score to ``score`` (0..100) for ``reason``.

        Raises ReviewError without a reason of at least MIN_REASON characters or for a score
        out of range, RunStateError when the run is not graded.
        """
        reason = reason.strip()
        if len(reason) < MIN_REASON:
            raise ReviewError(
                f"an override needs a reason of at least {MIN_REASON} characters; "
                "say why the graded score is wrong"
            )
        _check_length(reason, "an override's reason")
        if not 0.0 <= score <= 100.0:  # NaN too
            raise ReviewError(f"an overriding score must be within 0..100, not {score}")
        with self.store.locked(run_id) as (s, row):  # so each override sees the one before
            run = Run.from_row(row)
            if run.status != Status.graded:
                raise RunStateError(
                    f"run {run_id} is {run.status.value}; only graded runs are overridden"
                )
            previous = effective(run, _reviews(s, run_id)).score
            review = _add(s, run_id, author, "override", reason, round(score, 1), previous)
        self.audit.record(
            author,
            "review.override",
            run_id,
            {"review": review.id, "score": review.score, "previous": previous, "reason": reason},
        )
        return review

    def for_run(self, run_id: str) -> list[Review]:
        """Oldest first."""
        with self.store.session() as s:
            return _reviews(s, run_id)

    def effective(self, run: Run) -> EffectiveScore:
        return effective(run, self.for_run(run.id))

    def overrides(self) -> dict[str, Review]:
        """Run id -> its newest override, for runs that have one."""
        with self.store.session() as s:
            rows = s.scalars(
                select(ReviewRow).where(ReviewRow.kind == "override").order_by(ReviewRow.id)
            )
            return {row.run_id: Review.from_row(row) for row in rows}


def _reviews(s: Session, run_id: str) -> list[Review]:
    rows = s.scalars(select(ReviewRow).where(ReviewRow.run_id == run_id).order_by(ReviewRow.id))
    return [Review.from_row(r) for r in rows]


def _add(
    s: Session,
    run_id: str,
    author: str,
    kind: str,
    text: str,
    score: float | None,
    previous: float | None,
) -> Review:
    row = ReviewRow(
        run_id=run_id,
        author=author,
        kind=kind,
        text=text,
        score=score,
        previous_score=previous,
        created_at=utcnow(),
    )
    s.add(row)
    s.flush()
    return Review.from_row(row)


def _check_length(text: str, what: str) -> None:
    if len(text) > MAX_TEXT:
        raise ReviewError(f"{what} has at most {MAX_TEXT} characters, not {len(text)}")
