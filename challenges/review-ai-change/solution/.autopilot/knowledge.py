"""What the reference reviewer knows of the assistant's mistakes: each kind of defect by a
signature of its code (a MULTILINE regex) with its category, severity, a comment for the author
and a minimal fix; each right-but-suspicious spot (left alone); and when each measurable claim of
PR.md is false."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from dataclasses import dataclass

BASE, HEAD = "main", "ai/change"
Replacement = str | Callable[[re.Match[str]], str]


def block(code: str) -> Callable[[re.Match[str]], str]:
    """A replacement: ``code`` (dedented) indented like the match's ``indent`` group."""
    lines = textwrap.dedent(code).strip("\n").splitlines()
    return lambda m: "".join(f"{m['indent']}{line}\n" if line else "\n" for line in lines)


def locked(m: re.Match[str]) -> str:
    """A replacement: the matched method body moved under ``with self._lock:``."""
    return f"{m['indent']}with self._lock:\n" + textwrap.indent(m[0], "    ")


@dataclass(frozen=True)
class Defect:
    """A kind of mistake: ``sign`` (a MULTILINE regex) finds it in ``file``; the finding's
    line is where the group ``at`` starts (else the match); ``fix`` is a regex and its
    replacement that put right code in its place."""

    id: str
    file: str
    category: str
    severity: str
    sign: str
    comment: str
    fix: tuple[str, Replacement]

    def fixed(self, text: str) -> str:
        """``text`` (the defect's file) with the fix applied; ValueError when it does not
        apply."""
        pattern, replacement = self.fix
        out, count = re.subn(pattern, replacement, text, count=1, flags=re.MULTILINE)
        if count != 1:
            raise ValueError(f"the fix of {self.id} does not apply to {self.file}")
        return out


@dataclass(frozen=True)
class Decoy:
    """Correct code that looks wrong: recognised so the review can say it was checked."""

    id: str
    file: str
    sign: str
    why_right: str


@dataclass(frozen=True)
class Claim:
    """A claim of PR.md (the line matching ``line``), false when ``sign`` is (or, with
    ``false_when_present`` False, is not) in ``file``."""

    id: str
    line: str
    file: str
    sign: str
    false_when_present: bool
    comment: str


def line_of(text: str, match: re.Match[str]) -> int:
    """1-based line where the match's ``at`` group (else the match) starts."""
    start = match.start("at") if "at" in match.re.groupindex else match.start()
    return text.count("\n", 0, start) + 1


DEFECTS = (
    Defect(
        "cache-unlocked-get",
        "service/cache.py",
        "concurrency",
        "blocker",
        r"^        entry = self\._entries\.get\(customer_id\)$",
        "get() reads and reorders the shared OrderedDict without self._lock while put() evicts "
        "from other request threads: move_to_end can raise KeyError or corrupt the LRU order "
        "under load. Take the lock in get() as put() does.",
        (
            r"^(?P<indent>        )entry = self\._entries\.get\(customer_id\)\n(?:        .*\n)*?"
            r"        return entry\.vector\n",
            locked,
        ),
    ),
    Defect(
        "cache-never-evicts",
        "service/cache.py",
        "resource_leak",
        "major",
        r"^ +self\._entries\.move_to_end\(customer_id\)\n\n    def invalidate",
        "put() never evicts: capacity is ignored, so the cache holds every customer ever scored "
        "and the service's memory grows until it is killed. Pop the oldest entries past "
        "capacity.",
        (
            r"^(?P<indent> +)self\._entries\.move_to_end\(customer_id\)\n(?=\n    def invalidate)",
            block("""
            self._entries.move_to_end(customer_id)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
            """),
        ),
    ),
    Defect(
        "cache-ignores-record-changes",
        "service/cache.py",
        "train_serving_skew",
        "blocker",
        r"^ +if entry is None:$",
        "get() ignores the fingerprint: a customer whose record changed is scored on the old "
        "features, so serving no longer sees what the model would compute. Check "
        "entry.matches(fingerprint).",
        (
            r"^(?P<indent> +)if entry is None:$",
            r"\g<indent>if entry is None or not entry.matches(fingerprint):",
        ),
    ),
    Defect(
        "batch-caps-idle-days",
        "churn/features.py",
        "train_serving_skew",
        "major",
        r"^ +idle = NUMERIC\.index\(\"idle_days\"\)\n +np\.minimum\(",
        "batch_matrix caps idle_days at 90 but training and single scoring do not: a customer "
        "idle for 120 days gets a different score in a batch than alone. Drop the cap (or add "
        "it everywhere and retrain).",
        (r"^ +idle = NUMERIC\.index\(\"idle_days\"\)\n +np\.minimum\(.*\n", ""),
    ),
    Defect(
        "batch-scores-failures-as-half",
        "service/batch.py",
        "silent_failure",
        "major",
        r"^ +try:\n +results\.extend\(scorer\.score_many\(features\.batch_matrix\(chunk\)\)\)\n"
        r"(?P<at> +except Exception:)\n +results\.extend\(0\.5 for _ in chunk\)",
        "every error of a chunk is swallowed and its customers scored 0.5: a malformed record "
        "(or a bug) silently turns up to 256 customers into coin flips instead of a 422 naming "
        "the bad record, as the docstring promises.",
        (
            r"^(?P<indent> +)try:\n +results\.extend\(scorer\.score_many\(features\.batch_matrix"
            r"\(chunk\)\)\)\n +except Exception:\n +results\.extend\(0\.5 for _ in chunk\)\n",
            block("""
            try:
                x = features.batch_matrix(chunk)
            except ValueError:
                for index, record in enumerate(chunk, start=offset):
                    try:
                        features.vector(record)
                    except ValueError as exc:
                        raise InvalidRecord(index, str(exc)) from None
                raise
            results.extend(scorer.score_many(x))
            """),
        ),
    ),
    Defect(
        "nan-auc-passes-gate",
        "churn/train.py",
        "silent_failure",
        "blocker",
        r"^ +if candidate_auc < current_auc - PROMOTION_TOLERANCE:$",
        "the promotion gate lets a NaN AUC through (NaN < x is False), so a diverged model is "
        "promoted to production. Refuse a NaN explicitly.",
        (
            r"^(?P<indent> +)if candidate_auc < current_auc - PROMOTION_TOLERANCE:$",
            r"\g<indent>if not candidate_auc >= current_auc - PROMOTION_TOLERANCE:  # NaN fails",
        ),
    ),
    Defect(
        "batch-drops-tail",
        "service/batch.py",
        "off_by_one",
        "major",
        r"range\(0, max\(len\(records\) - size, 1\), size\)",
        "chunks() stops before the last chunk: the records after the last full chunk are never "
        "scored and the answer is shorter than the request (and out of step with it).",
        (r"range\(0, max\(len\(records\) - size, 1\), size\)", "range(0, len(records), size)"),
    ),
    Defect(
        "batch-limit-refuses-full-batch",
        "service/batch.py",
        "off_by_one",
        "minor",
        r"if len\(records\) >= MAX_BATCH:",
        "a batch of exactly MAX_BATCH records is refused: the limit is 'at most', so > not >=.",
        (r"if len\(records\) >= MAX_BATCH:", "if len(records) > MAX_BATCH:"),
    ),
    Defect(
        "auc-on-hard-labels",
        "churn/train.py",
        "wrong_metric",
        "major",
        r"metrics\.roc_auc\(y, predicted\.astype\(float\)\)",
        "the holdout AUC is computed on the 0/1 predictions, not the probabilities: it measures "
        "one threshold, not the ranking, and the promotion gate compares it with a real AUC.",
        (r"metrics\.roc_auc\(y, predicted\.astype\(float\)\)", "metrics.roc_auc(y, p)"),
    ),
    Defect(
        "scaling-before-split",
        "churn/train.py",
        "data_leakage",
        "major",
        r"^ +mean, scale = model\.scaling\(features\.matrix\(table\.records\)\)$",
        "the standardisation is fitted on the whole export before the split, holdout months "
        "included: the evaluation sees statistics of the future. Fit it on the training part.",
        (
            r"^(?P<indent> +)mean, scale = model\.scaling\(features\.matrix\(table\.records\)\)\n"
            r"(?P<split> +train_part, holdout = .*\n +x_train = .*\n)",
            lambda m: f"{m['split']}{m['indent']}mean, scale = model.scaling(x_train)\n",
        ),
    ),
    Defect(
        "random-split",
        "churn/train.py",
        "data_leakage",
        "major",
        r"^ +order = np\.random\.default_rng\(0\)\.permutation\(len\(table\)\)$",
        "the holdout is now a random sample instead of the most recent months: training sees "
        "the months it is evaluated on, so the AUC no longer predicts production. Split by time.",
        (
            r"^(?P<indent> +)order = np\.random\.default_rng\(0\)\.permutation\(len\(table\)\)\n"
            r" +cut = .*\n +train_part, holdout = table\.take.*\n",
            block("train_part, holdout = data.split_by_time(table, HOLDOUT_FRACTION)"),
        ),
    ),
    Defect(
        "model-version-traversal",
        "service/scoring.py",
        "security",
        "blocker",
        r"e\.g\. \"v3\"\.\"\"\"\n(?P<at> +return MODELS_DIR / version / \"model\.pkl\")",
        "the request's model version goes straight into a path: '../../tmp/x' or an absolute "
        "path loads any pickle on disk, i.e. runs arbitrary code. Accept only registry names.",
        (
            r"(?<=e\.g\. \"v3\"\.\"\"\"\n)(?P<indent> +)return MODELS_DIR / version / .*\n",
            block("""
            if not (version[:1] == "v" and version[1:].isdecimal() and version.isascii()):
                raise ValueError(f"unknown model version {version!r}")
            return MODELS_DIR / version / "model.pkl"
            """),
        ),
    ),
    Defect(
        "model-file-left-open",
        "service/scoring.py",
        "resource_leak",
        "minor",
        r"pickle\.load\(open\(model_path\(version\), \"rb\"\)\)",
        "load_version opens the model file and never closes it: one leaked descriptor per "
        "batch request with a model field. model.load() closes it.",
        (
            r"^(?P<indent> +)fitted = model\.LogisticModel\.from_dict\(pickle\.load\(open\(.*\n"
            r" +return Scorer\(fitted\)\n",
            block("return Scorer.load(model_path(version))"),
        ),
    ),
    Defect(
        "numpy-unpinned",
        "requirements.txt",
        "dependency",
        "minor",
        r"^numpy>=[0-9.]+$",
        "numpy is no longer pinned: the next numpy release changes what is installed in "
        "production without a review. Keep numpy==2.4.6.",
        (r"^numpy>=[0-9.]+$", "numpy==2.4.6"),
    ),
)

DECOYS = (
    Decoy(
        "ffill-in-time-order",
        "churn/data.py",
        r"last\.get\(\(record\[\"customer_id\"\], name\)\)",
        "the forward fill runs per customer in month order, so it only uses the past",
    ),
    Decoy(
        "invalidate-missing-key",
        "service/cache.py",
        r"except KeyError:\n +pass",
        "invalidate() ignoring an absent customer is what makes it idempotent",
    ),
    Decoy(
        "consecutive-pairs",
        "churn/model.py",
        r"for i in range\(len\(recent\) - 1\)",
        "range(len(recent) - 1) visits each consecutive pair of losses exactly once",
    ),
    Decoy(
        "sha1-fingerprint",
        "service/scoring.py",
        r"hashlib\.sha1\(",
        "SHA-1 only fingerprints records for a cache lookup; a collision gains nobody anything",
    ),
)

CLAIMS = (
    Claim(
        "latency",
        r"p95 latency",
        "service/scoring.py",
        r"self\._weights",
        False,
        "single-request scoring still goes through the same numpy path per request and the "
        "cache only skips the cheap feature step on repeat customers: p95 is not down 40%.",
    ),
    Claim(
        "auc",
        r"Holdout AUC",
        "churn/train.py",
        r"^SAMPLE_ROWS = 120$",
        True,
        "retraining now fits on SAMPLE_ROWS = 120 rows: the holdout AUC drops well beyond "
        "noise, it is not unchanged.",
    ),
)

CATEGORIES = tuple(dict.fromkeys(d.category for d in DEFECTS))
"""The code categories (every one but misleading_claim), in the table's order."""
