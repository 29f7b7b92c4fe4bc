"""The catalogue: every place of the assistant's change that varies with the draw, with its
correct code, each seeded defect's defective code, each decoy's right-but-suspicious code, and
the code that makes each of PR.md's measurable claims true or false.

A *slot* is a marker line ``@@name@@`` in a template under repo/change/; it is filled with the
slot's correct snippet unless the draw picks a defect, a decoy or a claim's variant for it.
Snippets are written without their indentation (the marker's is added). Each defect names its
hidden tests (functions of hidden/test_defects.py); a decoy may name feature tests (functions
of hidden/test_feature.py) that "fixing" it breaks.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass, field

CATEGORIES = (
    "data_leakage",
    "train_serving_skew",
    "silent_failure",
    "concurrency",
    "off_by_one",
    "wrong_metric",
    "security",
    "dependency",
    "resource_leak",
    "misleading_claim",
)
SEVERITIES = ("blocker", "major", "minor")


@dataclass(frozen=True)
class Snippet:
    """Code for a slot, and the plain ``import X`` lines it needs (the file's ``@@imports@@``)."""

    code: str
    imports: tuple[str, ...] = ()

    @property
    def lines(self) -> list[str]:
        return textwrap.dedent(self.code).strip("\n").splitlines() if self.code.strip() else []


@dataclass(frozen=True)
class Slot:
    name: str
    file: str
    correct: Snippet


@dataclass(frozen=True)
class Defect:
    id: str
    slot: str
    category: str
    severity: str
    title: str
    code: Snippet
    tests: tuple[str, ...]


@dataclass(frozen=True)
class Decoy:
    id: str
    slot: str
    looks_like: str
    why_right: str
    code: Snippet
    tests: tuple[str, ...] = field(default=())


def s(code: str, *imports: str) -> Snippet:
    return Snippet(code, tuple(imports))


SLOTS = {
    slot.name: slot
    for slot in (
        Slot("requirements", "requirements.txt", s("numpy==2.4.6")),
        Slot(
            "data-fill",
            "churn/data.py",
            s("records = [r for r in records if all(r[name] is not None for name in NUMBERS)]"),
        ),
        Slot("batch-idle", "churn/features.py", s("")),
        Slot(
            "early-stop",
            "churn/model.py",
            s("return all(a - b < tolerance for a, b in zip(recent, recent[1:]))"),
        ),
        Slot("sample-rows", "churn/train.py", s("SAMPLE_ROWS = 8_000")),
        Slot("evaluate", "churn/train.py", s('"auc": metrics.roc_auc(y, p),')),
        Slot(
            "promotion-gate",
            "churn/train.py",
            s(
                """
                if math.isnan(candidate_auc) or candidate_auc < current_auc - PROMOTION_TOLERANCE:
                    return False
                return True
                """,
                "math",
            ),
        ),
        Slot(
            "pipeline-split",
            "churn/train.py",
            s(
                """
                train_part, holdout = data.split_by_time(table, HOLDOUT_FRACTION)
                x_train = features.matrix(train_part.records)
                mean, scale = model.scaling(x_train)
                """
            ),
        ),
        Slot(
            "cache-get",
            "service/cache.py",
            s(
                """
                with self._lock:
                    entry = self._entries.get(customer_id)
                    if entry is None or not entry.matches(fingerprint):
                        self.misses += 1
                        return None
                    self._entries.move_to_end(customer_id)
                    self.hits += 1
                    return entry.vector
                """
            ),
        ),
        Slot(
            "cache-put",
            "service/cache.py",
            s(
                """
                with self._lock:
                    self._entries[customer_id] = Entry(fingerprint, vector)
                    self._entries.move_to_end(customer_id)
                    while len(self._entries) > self.capacity:
                        self._entries.popitem(last=False)
                """
            ),
        ),
        Slot(
            "cache-invalidate",
            "service/cache.py",
            s(
                """
                with self._lock:
                    self._entries.pop(customer_id, None)
                """
            ),
        ),
        Slot("fast-init", "service/scoring.py", s("")),
        Slot(
            "single-path",
            "service/scoring.py",
            s("return float(self.model.predict_proba(np.array([vector]))[0])"),
        ),
        Slot("fingerprint", "service/scoring.py", s("return repr(sorted(record.items()))")),
        Slot(
            "model-path",
            "service/scoring.py",
            s(
                """
                if not re.fullmatch(r"v[0-9]+", version):
                    raise ValueError(f"unknown model version {version!r}")
                return MODELS_DIR / version / "model.pkl"
                """,
                "re",
            ),
        ),
        Slot("load-version", "service/scoring.py", s("return Scorer.load(model_path(version))")),
        Slot("batch-limit", "service/batch.py", s("if len(records) > MAX_BATCH:")),
        Slot(
            "batch-chunks",
            "service/batch.py",
            s(
                """
                starts = range(0, len(records), size)
                return [(start, records[start : start + size]) for start in starts]
                """
            ),
        ),
        Slot(
            "batch-errors",
            "service/batch.py",
            s(
                """
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
                """
            ),
        ),
    )
}

DEFECTS = (
    Defect(
        "cache-unlocked-get",
        "cache-get",
        "concurrency",
        "blocker",
        "the shared feature cache is read and reordered without its lock while writers evict",
        s(
            """
            entry = self._entries.get(customer_id)
            if entry is None or not entry.matches(fingerprint):
                self.misses += 1
                return None
            self._entries.move_to_end(customer_id)
            self.hits += 1
            return entry.vector
            """
        ),
        ("test_cache_is_thread_safe",),
    ),
    Defect(
        "cache-never-evicts",
        "cache-put",
        "resource_leak",
        "major",
        "the feature cache never evicts: it grows with every customer until the process dies",
        s(
            """
            with self._lock:
                self._entries[customer_id] = Entry(fingerprint, vector)
                self._entries.move_to_end(customer_id)
            """
        ),
        ("test_cache_stays_within_its_capacity",),
    ),
    Defect(
        "cache-ignores-record-changes",
        "cache-get",
        "train_serving_skew",
        "blocker",
        "the cache serves a customer's old features after their record changed",
        s(
            """
            with self._lock:
                entry = self._entries.get(customer_id)
                if entry is None:
                    self.misses += 1
                    return None
                self._entries.move_to_end(customer_id)
                self.hits += 1
                return entry.vector
            """
        ),
        ("test_a_changed_record_is_not_served_stale_features",),
    ),
    Defect(
        "batch-caps-idle-days",
        "batch-idle",
        "train_serving_skew",
        "major",
        "batch features cap idle_days at 90, unlike training and single scoring",
        s(
            """
            idle = NUMERIC.index("idle_days")
            np.minimum(out[:, idle], 90.0, out=out[:, idle])
            """
        ),
        ("test_batch_features_match_single_features",),
    ),
    Defect(
        "batch-scores-failures-as-half",
        "batch-errors",
        "silent_failure",
        "major",
        "any error in a batch chunk is swallowed and its customers scored 0.5",
        s(
            """
            try:
                results.extend(scorer.score_many(features.batch_matrix(chunk)))
            except Exception:
                results.extend(0.5 for _ in chunk)
            """
        ),
        ("test_a_bad_record_in_a_batch_is_not_scored_silently",),
    ),
    Defect(
        "nan-auc-passes-gate",
        "promotion-gate",
        "silent_failure",
        "blocker",
        "a NaN holdout AUC passes the promotion gate (NaN < x is False)",
        s(
            """
            if candidate_auc < current_auc - PROMOTION_TOLERANCE:
                return False
            return True
            """
        ),
        ("test_a_nan_auc_is_never_promoted",),
    ),
    Defect(
        "batch-drops-tail",
        "batch-chunks",
        "off_by_one",
        "major",
        "batch chunking drops the records after the last full chunk",
        s(
            """
            starts = range(0, max(len(records) - size, 1), size)
            return [(start, records[start : start + size]) for start in starts]
            """
        ),
        ("test_every_record_of_a_batch_is_scored",),
    ),
    Defect(
        "batch-limit-refuses-full-batch",
        "batch-limit",
        "off_by_one",
        "minor",
        "a batch of exactly MAX_BATCH records is refused (>= instead of >)",
        s("if len(records) >= MAX_BATCH:"),
        ("test_a_batch_of_exactly_the_limit_is_accepted",),
    ),
    Defect(
        "auc-on-hard-labels",
        "evaluate",
        "wrong_metric",
        "major",
        "the holdout AUC is computed on 0/1 predictions instead of probabilities",
        s('"auc": metrics.roc_auc(y, predicted.astype(float)),'),
        ("test_evaluation_auc_ranks_probabilities",),
    ),
    Defect(
        "scaling-before-split",
        "pipeline-split",
        "data_leakage",
        "major",
        "standardisation is fitted on the whole export, holdout months included",
        s(
            """
            mean, scale = model.scaling(features.matrix(table.records))
            train_part, holdout = data.split_by_time(table, HOLDOUT_FRACTION)
            x_train = features.matrix(train_part.records)
            """
        ),
        ("test_the_holdout_does_not_influence_training",),
    ),
    Defect(
        "random-split",
        "pipeline-split",
        "data_leakage",
        "major",
        "the holdout is a random sample, so training sees the months it is evaluated on",
        s(
            """
            order = np.random.default_rng(0).permutation(len(table))
            cut = int(len(order) * (1 - HOLDOUT_FRACTION))
            train_part, holdout = table.take(order[:cut]), table.take(order[cut:])
            x_train = features.matrix(train_part.records)
            mean, scale = model.scaling(x_train)
            """
        ),
        ("test_the_holdout_does_not_influence_training",),
    ),
    Defect(
        "model-version-traversal",
        "model-path",
        "security",
        "blocker",
        "the request's model version is joined into a path: any pickle on disk can be loaded",
        s('return MODELS_DIR / version / "model.pkl"'),
        ("test_a_model_version_cannot_leave_the_registry",),
    ),
    Defect(
        "model-file-left-open",
        "load-version",
        "resource_leak",
        "minor",
        "a model version's file is opened and never closed",
        s(
            """
            fitted = model.LogisticModel.from_dict(pickle.load(open(model_path(version), "rb")))
            return Scorer(fitted)
            """,
            "pickle",
        ),
        ("test_loading_a_model_version_closes_its_file",),
    ),
    Defect(
        "numpy-unpinned",
        "requirements",
        "dependency",
        "minor",
        "the numpy pin is relaxed to an open range",
        s("numpy>=1.24"),
        ("test_every_requirement_is_pinned",),
    ),
)

DECOYS = (
    Decoy(
        "ffill-in-time-order",
        "data-fill",
        "data_leakage",
        "a missing number is filled from the same customer's previous month only, in time "
        "order: no future value reaches an earlier row",
        s(
            """
            last: dict[tuple[object, str], object] = {}
            for record in sorted(records, key=lambda r: (str(r["customer_id"]), int(r["month"]))):
                for name in NUMBERS:
                    if record[name] is None:
                        record[name] = last.get((record["customer_id"], name))
                    else:
                        last[(record["customer_id"], name)] = record[name]
            records = [r for r in records if all(r[name] is not None for name in NUMBERS)]
            """
        ),
        ("test_a_missing_number_is_filled_from_the_previous_month",),
    ),
    Decoy(
        "invalidate-missing-key",
        "cache-invalidate",
        "silent_failure",
        "invalidating a customer that is not cached is a no-op by design: invalidation is "
        "idempotent",
        s(
            """
            with self._lock:
                try:
                    del self._entries[customer_id]
                except KeyError:
                    pass
            """
        ),
    ),
    Decoy(
        "consecutive-pairs",
        "early-stop",
        "off_by_one",
        "range(len(recent) - 1) visits every consecutive pair of the recent losses exactly once",
        s("return all(recent[i] - recent[i + 1] < tolerance for i in range(len(recent) - 1))"),
    ),
    Decoy(
        "sha1-fingerprint",
        "fingerprint",
        "security",
        "SHA-1 only fingerprints records for a cache lookup, not for anything an attacker gains "
        "from a collision",
        s(
            "return hashlib.sha1(repr(sorted(record.items())).encode()).hexdigest()",
            "hashlib",
        ),
    ),
)

# Each claim's code, by whether the claim holds (claim id -> truth -> slot -> snippet).
CLAIM_CODE: dict[str, dict[bool, dict[str, Snippet]]] = {
    "latency": {
        False: {},
        True: {
            "fast-init": s(
                """
                scaled = fitted.weights / fitted.scale
                self._weights = scaled.tolist()
                self._bias = float(fitted.bias - (scaled * fitted.mean).sum())
                """
            ),
            "single-path": s(
                """
                z = self._bias + sum(map(operator.mul, self._weights, vector))
                return 1.0 / (1.0 + math.exp(-min(35.0, max(-35.0, z))))
                """,
                "math",
                "operator",
            ),
        },
    },
    "auc": {True: {}, False: {"sample-rows": s("SAMPLE_ROWS = 120")}},
}
