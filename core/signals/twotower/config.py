"""Architecture and training settings of the two-tower models (one frozen dataclass).

Plain settings with defaults chosen on validation data; it must not import torch or hold code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal


@dataclass(frozen=True)
class TwoTowerConfig:
    """Architecture and training of the towers (defaults chosen on validation data, see
    ``core.evaluation.models``).

    Attributes:
        dim: output vector size of each tower.
        hidden: hidden layer size.
        similarity: ``"cosine"`` (unit vectors, logits divided by ``temperature``) or ``"dot"``.
        temperature: softmax temperature of cosine logits.
        logq: subtract ``log Q(movie)`` from the in-batch logits (popularity correction).
        shared_layers: one output layer shared by both towers (else one each).
        user_id_dim: size of a user-id embedding in the user tower (0 = none; a user unseen in
            training, or folded in from a handful of ratings, gets a zero id vector).
        text_profile: feed the user tower the mean text vector of the movies they liked.
        cold_dropout: share of training movies whose rating statistics are replaced by those
            of an unrated movie, so the tower learns to rank movies nobody has rated yet from
            their content (every training positive has ratings, by definition).
        id_dropout: share of training rows whose user id is replaced by the unknown-user row,
            so the tower also works from features alone (new users folded in from ratings).
        epochs / batch_size / lr / weight_decay / dropout: training.
        max_interactions: interactions sampled per epoch at most (bounds time on huge data).
        seed: seeds torch and the batch order.
        threads: torch threads while training (restored afterwards). One: on a 2-core machine
            shared with the app and other jobs, more threads wait for each other's cores
            (timings in ``docs/experiments/signals.md``).
    """

    dim: int = 64
    hidden: int = 256
    similarity: Literal["cosine", "dot"] = "cosine"
    temperature: float = 0.1
    logq: bool = True
    shared_layers: bool = False
    user_id_dim: int = 32
    text_profile: bool = True
    cold_dropout: float = 0.15
    id_dropout: float = 0.2
    epochs: int = 8
    batch_size: int = 1024
    lr: float = 2e-3
    weight_decay: float = 1e-6
    dropout: float = 0.1
    max_interactions: int = 1_000_000
    seed: int = 42
    threads: int = 1
