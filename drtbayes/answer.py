"""The comparison of two designs stated in words, from the crossover results.

One function turns the crossover of each resistance component (:func:`drtbayes.crossover`, a
dict, or a result object with ``.to_dict()``) into sentences such as::

    total: S_SE is lower below 19 % SOC [11, 30] (P ≥ 0.9 up to 13 %), L_SE above
    (P ≥ 0.9 from 33 % up); R1: no credible difference (P(L_SE lower) 0.67–0.75)

The same verdict drives the report's table and the crossover figure, so that a component
reads one way everywhere: a crossing SOC is stated only where the order of the designs
credibly reverses (one design lower with posterior probability >= the reversal level at some
SOC, the other at another) *and* one crossing cluster holds at least half the draws. Curves
that do not differ cross somewhere in many draws; those crossings are no crossover.

This module is analysis-layer code: it reads plain numbers and imports no plotting library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Answer", "ComponentAnswer", "answer_component", "answer_in_words"]

#: Fallback level when a crossover dict carries no ``reversal.level`` (the value
#: :func:`drtbayes.crossover` uses).
DEFAULT_LEVEL = 0.9

#: Verdicts, in words: see :class:`ComponentAnswer`.
VERDICTS = ("crossover", "reversal", "one_lower", "no_difference")


@dataclass(frozen=True)
class ComponentAnswer:
    """The verdict on one resistance component.

    Attributes
    ----------
    component
        ``R1``, ``R2``, ``R3`` or ``total``.
    verdict
        ``"crossover"``: the order credibly reverses at the crossing(s) in ``crossings``;
        ``"reversal"``: it credibly reverses but no single crossing SOC holds half the draws;
        ``"one_lower"``: one design is credibly lower over part (or all) of the range, with no
        credible reversal; ``"no_difference"``: neither design is credibly lower anywhere.
    sentence
        The verdict in words, without the component name.
    crossings
        The credible crossings (``soc_median``, ``hdi95``, ``probability``), by SOC; empty
        unless ``verdict == "crossover"``.
    p_crossing
        Fraction of posterior draws in which the curves cross at least once.
    level
        Posterior probability at which a design counts as credibly lower.
    p_lower
        Highest posterior probability, over the SOC grid, that each design is the lower one
        (``{design: p}``).
    """

    component: str
    verdict: str
    sentence: str
    crossings: tuple[dict, ...] = ()
    p_crossing: float = 0.0
    level: float = DEFAULT_LEVEL
    p_lower: dict[str, float] = field(default_factory=dict)

    @property
    def text(self) -> str:
        """``"component: sentence"``."""
        return f"{self.component}: {self.sentence}"


@dataclass(frozen=True)
class Answer:
    """The verdicts on every component of a comparison of designs ``a`` and ``b``."""

    a: str
    b: str
    components: tuple[ComponentAnswer, ...]

    @property
    def sentences(self) -> list[str]:
        """One ``"component: sentence"`` per component."""
        return [c.text for c in self.components]

    @property
    def text(self) -> str:
        """All sentences joined by ``"; "`` (the console headline)."""
        return "; ".join(self.sentences)

    def __getitem__(self, component: str) -> ComponentAnswer:
        """Return the verdict on ``component``."""
        for c in self.components:
            if c.component == component:
                return c
        raise KeyError(component)


def _as_dict(obj: Any) -> dict:
    # the crossover is a dict today; a result object exposes the same dict via .to_dict()
    if hasattr(obj, "to_dict"):
        obj = obj.to_dict()
    if not isinstance(obj, Mapping):
        raise TypeError(f"expected a crossover dict or result, got {type(obj).__name__}")
    return dict(obj)


def _pct(x: float) -> str:
    return f"{x:.0f}"


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Index ranges ``[i, j]`` (inclusive) of the True runs of ``mask``."""
    runs, start = [], None
    for i, m in enumerate(mask):
        if m and start is None:
            start = i
        if not m and start is not None:
            runs.append((start, i - 1))
            start = None
    if start is not None:
        runs.append((start, len(mask) - 1))
    return runs


def _where(soc: np.ndarray, i: int, j: int, lo: float, hi: float) -> str:
    """Say a SOC range in words; an end at the edge of ``[lo, hi]`` reads as open."""
    at_lo, at_hi = soc[i] <= lo + 1e-9, soc[j] >= hi - 1e-9
    if at_lo and at_hi:
        return "at every SOC"
    if at_lo:
        return f"up to {_pct(soc[j])} %"
    if at_hi:
        return f"from {_pct(soc[i])} % up"
    return f"from {_pct(soc[i])} to {_pct(soc[j])} %"


def _regions(soc: np.ndarray, mask: np.ndarray, lo: float, hi: float) -> str:
    """Where ``mask`` holds inside ``[lo, hi]``, in words ("" when nowhere)."""
    inside = (soc >= lo - 1e-9) & (soc <= hi + 1e-9)
    idx = np.flatnonzero(inside)
    if idx.size == 0:
        return ""
    sub = soc[idx]
    parts = [_where(sub, i, j, float(soc[0]), float(soc[-1]))
             for i, j in _runs(mask[idx])]
    return ", ".join(parts)


def _level_txt(level: float) -> str:
    return f"P ≥ {level:g}"


def _crossover_sentence(soc, p, crossings, a, b, level) -> str:
    """Sentence for a credible reversal at the given crossings (sorted by SOC)."""
    edges = [float(soc[0]), *[c["soc_median"] for c in crossings], float(soc[-1])]
    lower: list[str] = []
    evidence: list[str] = []
    for lo, hi in zip(edges[:-1], edges[1:], strict=True):
        seg = (soc >= lo) & (soc <= hi)
        p_seg = float(np.mean(p[seg])) if seg.any() else float(np.interp(0.5 * (lo + hi), soc, p))
        design = a if p_seg > 0.5 else b
        lower.append(design)
        mask = p >= level if design == a else p <= 1.0 - level
        where = _regions(soc, mask, lo, hi)
        evidence.append(f" ({_level_txt(level)} {where})" if where else
                        f" (P < {level:g} throughout)")
    if len(crossings) == 1:
        c = crossings[0]
        lo_h, hi_h = c["hdi95"]
        return (f"{lower[0]} is lower below {_pct(c['soc_median'])} % SOC "
                f"[{_pct(lo_h)}, {_pct(hi_h)}]{evidence[0]}, {lower[1]} above{evidence[1]}")
    at = " and ".join(f"{_pct(c['soc_median'])} % SOC [{_pct(c['hdi95'][0])}, "
                      f"{_pct(c['hdi95'][1])}]" for c in crossings)
    segs = [f"{lower[0]} is lower below {_pct(edges[1])} %{evidence[0]}"]
    for k in range(1, len(lower) - 1):
        segs.append(f"{lower[k]} between {_pct(edges[k])} and {_pct(edges[k + 1])} %"
                    f"{evidence[k]}")
    segs.append(f"{lower[-1]} above {_pct(edges[-2])} %{evidence[-1]}")
    return f"the order reverses at {at}: " + ", ".join(segs)


def answer_component(
    crossover: Mapping[str, Any] | Any,
    a: str,
    b: str,
    component: str = "",
) -> ComponentAnswer:
    """State the verdict on one component, from its crossover result.

    Parameters
    ----------
    crossover
        One component's :func:`drtbayes.crossover` result (a dict with ``p_crossing``,
        ``reversal``, ``crossings`` and ``p_a_better``), or an object with ``.to_dict()``.
    a, b
        The design names, in the order the crossover was computed (``p_a_better`` is
        ``P(R_a < R_b)``).
    component
        Its name, for :attr:`ComponentAnswer.text`.

    Returns
    -------
    ComponentAnswer
    """
    cx = _as_dict(crossover)
    rev = cx.get("reversal") or {}
    level = float(rev.get("level", DEFAULT_LEVEL))
    pab = cx.get("p_a_better") or {}
    soc = np.asarray(pab.get("soc", []), dtype=float)
    p = np.asarray(pab.get("p", []), dtype=float)
    p_cross = float(cx.get("p_crossing", 0.0) or 0.0)
    if soc.size == 0:
        # no probability curve: the verdict rests on the reversal flag alone
        soc, p = np.array([0.0, 100.0]), np.array([rev.get("p_a_better_min", 0.5),
                                                   rev.get("p_a_better_max", 0.5)], dtype=float)
    order = np.argsort(soc)
    soc, p = soc[order], p[order]
    p_lower = {a: float(np.max(p)), b: float(np.max(1.0 - p))}
    a_low, b_low = p >= level, p <= 1.0 - level
    credible = bool(rev.get("credible", a_low.any() and b_low.any()))
    kw = dict(component=component, p_crossing=p_cross, level=level, p_lower=p_lower)

    if credible:
        located = sorted((c for c in cx.get("crossings", []) or []
                          if float(c.get("probability", 0.0)) >= 0.5 and c.get("hdi95")),
                         key=lambda c: c["soc_median"])
        if located:
            text = _crossover_sentence(soc, p, located, a, b, level)
            return ComponentAnswer(verdict="crossover", sentence=text,
                                   crossings=tuple(located), **kw)
        where_a = _regions(soc, a_low, soc[0], soc[-1])
        where_b = _regions(soc, b_low, soc[0], soc[-1])
        text = (f"the order reverses ({a} lower {where_a}, {b} lower {where_b}; "
                f"{_level_txt(level)}) but no single crossing SOC holds half the draws "
                f"(P(cross) = {p_cross:.2f})")
        return ComponentAnswer(verdict="reversal", sentence=text, **kw)

    for design, mask in ((a, a_low), (b, b_low)):
        if mask.any():
            where = _regions(soc, mask, soc[0], soc[-1])
            text = f"{design} is lower {where} ({_level_txt(level)}), no credible crossover"
            if not mask.all():
                text += " and no credible difference elsewhere"
            return ComponentAnswer(verdict="one_lower", sentence=text, **kw)
    text = (f"no credible difference (P({a} lower) {float(np.min(p)):.2f}–"
            f"{float(np.max(p)):.2f} over the SOC range)")
    return ComponentAnswer(verdict="no_difference", sentence=text, **kw)


def answer_in_words(
    report: Mapping[str, Any] | Any,
    a: str | None = None,
    b: str | None = None,
    components: Sequence[str] | None = None,
) -> Answer:
    """State the comparison of two designs in words, one sentence per component.

    Parameters
    ----------
    report
        A :func:`drtbayes.crossover_report` result (``{"a", "b", "components": {name:
        crossover}}``, as saved in ``crossover.json``), a ``{name: crossover}`` mapping (then
        give ``a`` and ``b``), or an object with ``.to_dict()`` giving either.
    a, b
        Design names; default the report's own.
    components
        Which components, in this order; default all, in the report's order.

    Returns
    -------
    Answer
        ``.text`` is the headline (sentences joined by ``"; "``), ``.sentences`` one per
        component.

    Examples
    --------
    >>> import json
    >>> rep = json.load(open("results/crossover.json"))  # doctest: +SKIP
    >>> print(answer_in_words(rep).text)  # doctest: +SKIP
    R2: S_SE is lower below 19 % SOC [11, 30] (P ≥ 0.9 up to 13 %), L_SE above ...
    """
    rep = _as_dict(report)
    per = rep.get("components", rep)
    per = {k: (_as_dict(v) if not isinstance(v, Mapping) else v) for k, v in per.items()}
    a = a if a is not None else rep.get("a")
    b = b if b is not None else rep.get("b")
    if a is None or b is None:
        raise ValueError("answer: give the design names a and b (the mapping names neither)")
    names = list(components) if components is not None else list(per)
    return Answer(a=str(a), b=str(b), components=tuple(
        answer_component(per[n], str(a), str(b), n) for n in names))
