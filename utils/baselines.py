"""Traditional sentiment baselines for IMDb (chapter 4): TF-IDF + logistic regression,
and NBSVM.

NBSVM (Wang & Manning, 2012) scales binary n-gram features by their naive-Bayes
log-count ratio before a linear classifier; here the classifier is logistic regression
("NB-LR"), which scikit-learn fits faster than an SVM and which scores the same on IMDb.
"""

from __future__ import annotations

import time

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer, TfidfVectorizer
from sklearn.linear_model import LogisticRegression

TOKEN_PATTERN = r"(?u)\b\w+\b|[!?]"  # words, plus '!' and '?', which carry sentiment


def _ngram_options(ngram_range, min_df) -> dict:
    """How both baselines cut a review into n-grams: lower-cased, words plus '!' and
    '?'. (``utils.imdb.clean_review`` has already turned the reviews' ``<br />`` into
    spaces.)"""
    return dict(
        ngram_range=ngram_range,
        min_df=min_df,
        lowercase=True,
        token_pattern=TOKEN_PATTERN,
    )


def _logistic_regression(C: float, seed: int) -> LogisticRegression:
    return LogisticRegression(C=C, max_iter=1000, solver="liblinear", random_state=seed)


def log_count_ratio(X, y, alpha: float = 1.0) -> np.ndarray:
    """r = log((p/|p|_1) / (q/|q|_1)), with p, q = alpha + the feature counts of
    positive / negative rows."""
    y = np.asarray(y)
    p = alpha + np.asarray(X[y == 1].sum(axis=0)).ravel()
    q = alpha + np.asarray(X[y == 0].sum(axis=0)).ravel()
    return np.log(p / p.sum()) - np.log(q / q.sum())


class NBLogisticRegression:
    """Binary uni+bigram counts, scaled by their log-count ratio, then logistic
    regression."""

    def __init__(
        self,
        C: float = 1.0,
        alpha: float = 1.0,
        ngram_range=(1, 2),
        min_df: int = 1,
        seed: int = 42,
    ):
        self.vectorizer = CountVectorizer(
            binary=True, **_ngram_options(ngram_range, min_df)
        )
        self.alpha = alpha
        self.classifier = _logistic_regression(C, seed)

    def _scaled(self, texts):
        return self.vectorizer.transform(texts) @ sparse.diags(self.r)

    def fit(self, texts, labels):
        X = self.vectorizer.fit_transform(texts)
        self.r = log_count_ratio(X, labels, self.alpha)
        self.classifier.fit(X @ sparse.diags(self.r), labels)
        return self

    def predict(self, texts):
        return self.classifier.predict(self._scaled(texts))


class TfidfLogisticRegression:
    """TF-IDF over unigrams and bigrams (sublinear tf), then logistic regression."""

    def __init__(
        self, C: float = 10.0, ngram_range=(1, 2), min_df: int = 2, seed: int = 42
    ):
        self.vectorizer = TfidfVectorizer(
            sublinear_tf=True, **_ngram_options(ngram_range, min_df)
        )
        self.classifier = _logistic_regression(C, seed)

    def fit(self, texts, labels):
        self.classifier.fit(self.vectorizer.fit_transform(texts), labels)
        return self

    def predict(self, texts):
        return self.classifier.predict(self.vectorizer.transform(texts))


BASELINES = {
    "TF-IDF + logistic regression": TfidfLogisticRegression,
    "NBSVM (NB log-count ratio + LR)": NBLogisticRegression,
}


def run_baselines(
    train_texts, train_labels, test_texts, test_labels
) -> dict[str, dict]:
    """Fit each baseline on the training reviews; accuracy on the test reviews, fit
    time, and which test reviews it got right (``correct``: '1' or '0' per review, in
    the test reviews' order), for a paired comparison with another classifier."""
    results = {}
    for name, cls in BASELINES.items():
        start = time.perf_counter()
        model = cls().fit(train_texts, train_labels)
        fit_s = time.perf_counter() - start
        correct = model.predict(test_texts) == np.asarray(test_labels)
        results[name] = {
            "accuracy": float(np.mean(correct)),
            "fit_seconds": fit_s,
            "train_size": len(train_texts),
            "correct": "".join("1" if c else "0" for c in correct),
        }
    return results
