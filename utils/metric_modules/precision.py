"""Precision: TP / (TP + FP): of the predicted positives, the share that are positive.

A local copy of the Hub's ``evaluate-metric/precision`` for offline use: same inputs,
same output.
"""

import datasets
import numpy as np
import evaluate
from sklearn.metrics import precision_score


class Precision(evaluate.Metric):
    def _info(self):
        return evaluate.MetricInfo(
            description=__doc__,
            citation="",
            inputs_description="predictions, references: lists of int labels",
            features=datasets.Features(
                {
                    "predictions": datasets.Value("int32"),
                    "references": datasets.Value("int32"),
                }
            ),
        )

    def _compute(
        self,
        predictions,
        references,
        labels=None,
        pos_label=1,
        average="binary",
        sample_weight=None,
        zero_division="warn",
    ):
        score = precision_score(
            references,
            predictions,
            labels=labels,
            pos_label=pos_label,
            average=average,
            sample_weight=sample_weight,
            zero_division=zero_division,
        )
        return {
            "precision": float(score)
            if np.ndim(score) == 0
            else np.asarray(score).tolist()
        }
