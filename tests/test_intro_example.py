"""The introduction's worked InfoNCE example: every number it prints is recomputed here with the package."""

from __future__ import annotations

import math
import re

import torch

from textembed_utils import book
from textembed_utils.training import info_nce, row_losses

INTRO = (book.PROJECT_ROOT / "book" / "intro.md").read_text()


def intro_similarities() -> torch.Tensor:
    """The 3 × 3 similarity table of the example, read from the page (bold marks the diagonal)."""
    rows = re.findall(r"^\| \$z_\d\$ \|(.+)\|$", INTRO, flags=re.M)
    return torch.tensor([[float(cell.strip(" *")) for cell in row.split("|")] for row in rows])


def test_the_example_reads_a_three_by_three_table():
    assert intro_similarities().shape == (3, 3)


def test_every_loss_the_example_prints_is_what_the_package_computes():
    similarity = intro_similarities()
    sharp, soft = row_losses(similarity, 0.05), row_losses(similarity, 1.0)
    mantissa, exponent = f"{sharp[0].item():.1e}".split("e")
    assert f"\\approx {mantissa} \\times 10^{{{int(exponent)}}}" in INTRO
    assert f"\\ell_3 = -\\log \\frac{{e^{{12}}}}{{e^{{2}} + e^{{10}} + e^{{12}}}} \\approx {sharp[2].item():.3f}" in INTRO
    assert f"$\\ell_2 \\approx {sharp[1].item():.4f}$" in INTRO
    assert f"\\approx {sharp.mean().item():.3f}$" in INTRO
    assert f"\\approx {soft[2].item():.3f}$" in INTRO
    assert f"batch mean $\\approx {soft.mean().item():.3f}$" in INTRO
    assert f"\\log 3 \\approx {math.log(3):.3f}" in INTRO


def test_row_losses_average_to_info_nce_on_embeddings_with_those_similarities():
    anchors, positives = torch.randn(5, 8), torch.randn(5, 8)
    similarity = torch.nn.functional.normalize(anchors, dim=1) @ torch.nn.functional.normalize(positives, dim=1).T
    assert torch.isclose(row_losses(similarity, 0.05).mean(), info_nce(anchors, positives, 0.05))
