"""Fault-mechanism signals for training the classifier (P9), with randomised machines.

Not the demo plant: this generator draws the machine (speed, bearing geometry, structural
resonances, damping, noise, healthy residuals, vane count) and the fault severity at random for
every capture, so the model learns the mechanism rather than one pump; the demo plant's own
simulator (``ingest.simulator.pumps``) is kept apart as a held-out test of a different
implementation. Mechanisms (acceleration, m/s²; radial X, Y and axial Z):

* unbalance: 1× rotating force (X, Y in quadrature), small axial;
* misalignment: 2× radial and strong axial 1×/2×;
* looseness: clipped (truncated) response → harmonic comb and ½-orders;
* outer race: impacts at BPFO, fixed in the load zone (constant amplitude);
* inner race: impacts at BPFI, amplitude-modulated at 1× (the defect turns with the shaft);
* rolling element: impacts at 2·BSF, modulated at FTF (the ball goes round with the cage);
* cage: FTF modulation of the shaft response plus weak impacts at FTF;
* cavitation: bursts of broadband noise above ~2 kHz, stronger vane pass.

    x, fs, fr, orders = simulate_capture("bearing_inner_race", rng)   # (3, n) m/s²
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from analytics.vibration.bearings import DefectOrders, Geometry
from analytics.vibration.faults import FAULTS

CLASSES = ("normal", *FAULTS)


def _ring(fs: float, fn: float, zeta: float) -> np.ndarray:
    wn = 2 * np.pi * fn
    t = np.arange(int(math.log(200) / (zeta * wn) * fs) + 1) / fs
    r = np.exp(-zeta * wn * t) * np.sin(wn * math.sqrt(1 - zeta**2) * t)
    return r / np.abs(r).max()


def _impacts(n: int, fs: float, rate: float, rng: np.random.Generator, amp_fn=None) -> np.ndarray:
    period = 1 / rate
    k = int(n / fs / period) + 2
    times = rng.uniform(0, period) + np.arange(k) * period + rng.normal(0, 0.015 * period, k)
    idx = np.round(times * fs).astype(int)
    keep = (idx >= 0) & (idx < n)
    train = np.zeros(n)
    amp = np.ones(int(keep.sum())) if amp_fn is None else amp_fn(times[keep])
    amp = amp * rng.uniform(0.7, 1.3, amp.size)  # impact-to-impact scatter
    np.add.at(train, idx[keep], amp)
    return train


def simulate_capture(
    label: str,
    rng: np.random.Generator,
    *,
    n: int = 16384,
    fs: float = 25600.0,
) -> tuple[np.ndarray, float, float, DefectOrders]:
    """One random machine with fault ``label``: (acc (3, n) m/s², fs, fr Hz, bearing orders)."""
    if label not in CLASSES:
        raise ValueError(f"unknown class {label!r}")
    fr = rng.uniform(12.0, 60.0)
    geom = Geometry(
        int(rng.integers(7, 14)),
        d := rng.uniform(6.0, 20.0),
        d / rng.uniform(0.15, 0.32),
        float(rng.choice([0.0, 0.0, 15.0, 25.0, 40.0])),
    )
    orders = geom.orders()
    t = np.arange(n) / fs
    out = np.zeros((3, n))
    ph = rng.uniform(0, 2 * np.pi, 32)

    def tone(ax: int, f: float, v_mm_s: float, p: float) -> None:
        if 0 < f < fs / 2 and v_mm_s:
            out[ax] += v_mm_s * 1e-3 * 2 * np.pi * f * np.sin(2 * np.pi * f * t + p)

    vanes = int(rng.integers(4, 9))
    base = rng.uniform(0.3, 1.2)
    for ax in range(3):
        w = 1.0 if ax < 2 else rng.uniform(0.2, 0.6)
        tone(ax, fr, base * w, ph[ax])
        tone(ax, 2 * fr, base * rng.uniform(0.1, 0.4) * w, ph[3 + ax])
        tone(ax, vanes * fr, base * rng.uniform(0.2, 0.7) * w, ph[6 + ax])
    out += rng.normal(0, rng.uniform(0.03, 0.2), out.shape)
    sev = rng.uniform(0.4, 1.5)
    fn = rng.uniform(1500.0, min(9000.0, 0.38 * fs))
    zeta = rng.uniform(0.03, 0.1)
    weights = (rng.uniform(0.5, 1.0), 1.0, rng.uniform(0.2, 0.6))

    if label == "unbalance":
        v = sev * rng.uniform(4.0, 9.0)
        tone(0, fr, v, ph[10])
        tone(1, fr, v * rng.uniform(0.7, 1.1), ph[10] - np.pi / 2)
        tone(2, fr, v * rng.uniform(0.05, 0.25), ph[10])
    elif label == "misalignment":
        v = sev * rng.uniform(2.0, 5.0)
        for ax, (a1, a2) in enumerate(((0.5, 1.0), (0.45, 0.9), (1.2, 0.9))):
            tone(ax, fr, v * a1 * rng.uniform(0.7, 1.3), ph[11 + ax])
            tone(ax, 2 * fr, v * a2 * rng.uniform(0.7, 1.3), ph[14 + ax])
    elif label == "looseness":
        # A clipped (truncated) 1× response makes the harmonic comb and subharmonics.
        v = sev * rng.uniform(4.0, 8.0)
        for ax, w in enumerate((0.6, 1.0, 0.3)):
            x = np.sin(2 * np.pi * fr * t + ph[17]) + 0.6 * np.sin(np.pi * fr * t + ph[18])
            clipped = np.clip(x, -rng.uniform(0.2, 0.5), 2.0)
            spec = np.fft.rfft(clipped - clipped.mean())
            f = np.fft.rfftfreq(n, 1 / fs)
            k1 = int(np.argmin(np.abs(f - fr)))
            # Velocity lines scaled so 1x carries v·w mm/s peak, then to acceleration (jω).
            vel = spec / (np.abs(spec[k1]) + 1e-12) * v * w * 1e-3
            out[ax] += np.fft.irfft(vel * 2j * np.pi * f, n) * n / 2
    elif label in ("bearing_outer_race", "bearing_inner_race", "bearing_ball", "bearing_cage"):
        ring = _ring(fs, fn, zeta)
        amp_fn: Callable[[np.ndarray], np.ndarray] | None = None
        depth = rng.uniform(0.3, 0.7)

        def inner(tt: np.ndarray) -> np.ndarray:
            return 1 - depth + depth * np.cos(2 * np.pi * fr * tt + ph[19])

        def ball(tt: np.ndarray) -> np.ndarray:
            return 1 - depth + depth * np.cos(2 * np.pi * orders.ftf * fr * tt + ph[20])

        if label == "bearing_outer_race":
            rate = orders.bpfo * fr
        elif label == "bearing_inner_race":
            rate = orders.bpfi * fr
            amp_fn = inner
        elif label == "bearing_ball":
            rate = 2 * orders.bsf * fr
            amp_fn = ball
        else:
            rate = orders.ftf * fr
        train = _impacts(n, fs, rate, rng, amp_fn)
        hits = np.convolve(train, ring)[:n]
        level = sev * rng.uniform(5.0, 30.0) * (0.5 if label == "bearing_cage" else 1.0)
        for ax in range(3):
            out[ax] += level * weights[ax] * hits
        if label == "bearing_cage":
            mod = 1 + 0.5 * sev * np.sin(2 * np.pi * orders.ftf * fr * t + ph[21])
            out[:2] *= mod
    elif label == "cavitation":
        noise = rng.normal(0, 1, (3, n))
        spec = np.fft.rfft(noise, axis=1)
        f = np.fft.rfftfreq(n, 1 / fs)
        spec[:, f < rng.uniform(1500.0, 3000.0)] = 0
        hf = np.fft.irfft(spec, n, axis=1)
        hf /= hf.std(axis=1, keepdims=True) + 1e-12
        win = int(rng.integers(32, 256))
        bursts = 0.3 + np.abs(
            np.convolve(rng.normal(0, 1, n), np.ones(win) / math.sqrt(win), "same")
        )
        out += sev * rng.uniform(1.5, 5.0) * hf * bursts
        for ax in range(3):
            tone(ax, vanes * fr, sev * rng.uniform(0.5, 2.0), ph[22 + ax])
    return out, fs, fr, orders
