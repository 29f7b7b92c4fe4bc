"""Similarity across candidates: winnowing fingerprints of each graded submission, compared with
the other submissions of the same challenge, the starter taken out (docs/evidence.md)."""
