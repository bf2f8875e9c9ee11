"""Evaluation: encoding, kNN accuracy, linear probe, layer-wise quality, t-SNE, TF-IDF, MTEB."""

from .baselines import tfidf_knn_correct
from .encode import encode
from .knn import knn_accuracy, knn_correct, knn_predict, split_indices
from .layers import layer_scores, linear_cka
from .probe import linear_probe_correct
from .tsne import tsne_map

__all__ = [
    "encode",
    "knn_accuracy",
    "knn_correct",
    "knn_predict",
    "layer_scores",
    "linear_cka",
    "linear_probe_correct",
    "split_indices",
    "tfidf_knn_correct",
    "tsne_map",
]
