"""A calibration adapted to one recording: which predicted keys are learned from its clean attacks."""
import numpy as np
import pytest

from unmf_core.calibration.piece import (
    MIN_ATTACKS, MIN_GAIN, OCTAVE_SOFTER, adaptable, adapt_to_piece, learn_from_piece,
)
from unmf_core.frontend.cqt import CQTParams
from unmf_core.transcription.notes import Note
from unmf_core.transcription.templates import Templates, harmonic_templates, normalise_columns

P = CQTParams()
FR = P.frame_rate
BASE = harmonic_templates(P).W.astype(np.float64)
K = 31  # E3


def _odd(k=K):
    """Key k's template with its second partial far stronger than its fundamental (cosine 0.76 to BASE's)."""
    col = BASE[:, k].copy()
    col[3 * k - 2: 3 * k + 3] *= 0.4
    col[3 * k + 34: 3 * k + 39] *= 2.5
    return col / np.linalg.norm(col)


def _recording(strikes, spectra, T=None):
    """A CQT ``(n_bins, T)``: each (key, onset s) strike adds its spectrum, decaying over 0.5 s; notes to match."""
    T = T or int((max(t for _, t in strikes) + 1.0) * FR)
    C = np.full((BASE.shape[0], T), 1e-4)
    decay = np.exp(-np.arange(int(0.5 * FR)) / (0.15 * FR))
    for key, t in strikes:
        i = int(round(t * FR))
        n = min(len(decay), T - i)
        C[:, i:i + n] += spectra[key][:, None] * decay[None, :n]
    return C, [Note(21 + key, t, t + 0.4) for key, t in strikes]


def _spectra(odd=True):
    s = {k: BASE[:, k] for k in range(88)}
    if odd:
        s[K] = _odd()
    return s


def test_a_key_struck_alone_that_the_templates_got_wrong_is_learned():
    strikes = [(K, 0.2), (39, 0.9), (K, 1.6), (46, 2.3), (K, 3.0)]
    C, notes = _recording(strikes, _spectra())
    learned = learn_from_piece(C, notes, FR, BASE, BASE, recorded={15, 27, 39})
    assert list(learned) == [K]
    assert float(learned[K] @ _odd() / np.linalg.norm(learned[K])) > 0.999
    # keys whose attacks fit their templates already (39, 46) are not learned, recorded keys never
    assert learn_from_piece(C, notes, FR, BASE, BASE, recorded={K}) == {}


def test_a_key_found_with_a_soft_ghost_an_octave_up_counts_as_struck_alone():
    # K's strong second partial makes the transcription find K + 12 too, softly, at every strike of K
    C, notes = _recording([(K, 0.2), (K, 1.0), (K, 1.8)], _spectra())
    ghosts = [Note(21 + K + 12, n.onset + 0.01, n.offset, 80 - OCTAVE_SOFTER) for n in notes]
    learned = learn_from_piece(C, notes + ghosts, FR, BASE, BASE, recorded=set())
    assert list(learned) == [K] and float(learned[K] @ _odd() / np.linalg.norm(learned[K])) > 0.999
    # an upper note less than OCTAVE_SOFTER softer is taken for a played octave: K is then never struck alone
    played = [Note(21 + K + 12, n.onset + 0.01, n.offset, 80 - OCTAVE_SOFTER + 1) for n in notes]
    assert learn_from_piece(C, notes + played, FR, BASE, BASE, recorded=set()) == {}
    # nor with a third key in the group
    third = [Note(21 + K + 7, n.onset, n.offset, 80) for n in notes]
    assert learn_from_piece(C, notes + ghosts + third, FR, BASE, BASE, recorded=set()) == {}


def test_what_is_not_learned():
    odd = _spectra()
    # the templates already fit the attacks (the gain is under MIN_GAIN)
    current = BASE.copy()
    current[:, K] = _odd()
    C, notes = _recording([(K, 0.2), (K, 1.0), (K, 1.8)], odd)
    assert learn_from_piece(C, notes, FR, current, BASE, recorded=set()) == {}
    assert MIN_GAIN > 0
    # too few clean attacks: one alone, the others struck with another key within 60 ms
    C, notes = _recording([(K, 0.2)] + [(K, 1.0), (60, 1.02), (K, 1.8), (70, 1.81)], odd)
    assert MIN_ATTACKS >= 2 and learn_from_piece(C, notes, FR, BASE, BASE, recorded=set()) == {}
    # attacks that disagree with each other (cosine to their mean under MIN_AGREEMENT)
    other = BASE[:, K].copy()
    other[3 * K + 56: 3 * K + 60] *= 8.0
    C1, n1 = _recording([(K, 0.2), (K, 1.8)], odd)
    C2, _ = _recording([(K, 1.0)], {K: other / np.linalg.norm(other)}, T=C1.shape[1])
    notes = sorted(n1 + [Note(21 + K, 1.0, 1.4)], key=lambda n: n.onset)
    assert learn_from_piece(C1 + C2, notes, FR, BASE, BASE, recorded=set()) == {}
    # attacks that do not sound like the key at all (its likeness to the base template is under MIN_LIKENESS)
    alien = {K: BASE[:, K + 12]}
    C, notes = _recording([(K, 0.2), (K, 1.0), (K, 1.8)], alien)
    assert learn_from_piece(C, notes, FR, BASE, BASE, recorded=set()) == {}
    # no notes inside the recording
    assert learn_from_piece(C, [Note(60, 99.0, 99.5)], FR, BASE, BASE, recorded=set()) == {}


def _calibration(recorded_keys, mixed=True, source="base"):
    from unmf_core.calibration.adapt import adapt

    own = np.zeros_like(BASE, dtype=np.float32)
    for k in recorded_keys:
        own[:, k] = BASE[:, k]
    W = adapt(BASE, {k: BASE[:, k] for k in recorded_keys}, mix=mixed)
    return Templates(W, P, "calibrated", [], {"mixed": mixed, "base": source}, own)


def test_adaptable_only_mixed_calibrations_on_the_same_base_with_keys_left_to_predict():
    base = Templates(normalise_columns(BASE), P, "base")
    assert adaptable(_calibration([15, 27, 39, 51]), base)
    assert not adaptable(_calibration(range(88)), base)  # nothing predicted
    assert not adaptable(_calibration([15, 27], mixed=False), base)
    assert not adaptable(_calibration([15, 27], source="other templates"), base)
    assert not adaptable(Templates(normalise_columns(BASE), P, "base"), base)  # not a calibration


def test_adapt_to_piece_calibrates_again_with_the_learned_keys():
    from unmf_core.calibration.adapt import adapt

    base = Templates(normalise_columns(BASE), P, "base")
    cal = _calibration([15, 27, 39, 51])
    C, notes = _recording([(K, 0.2), (39, 0.9), (K, 1.6), (K, 3.0)], _spectra())
    W, learned = adapt_to_piece(cal, base, C, notes, FR)
    assert learned == [K]
    rec = {k: BASE[:, k] for k in (15, 27, 39, 51)}
    expected = adapt(base.W.astype(np.float64), {**rec, K: learn_from_piece(C, notes, FR, cal.W, base.W, rec)[K]})
    np.testing.assert_allclose(W, expected, atol=1e-6)
    # nothing to learn: the calibration's own templates, as they were
    C, notes = _recording([(39, 0.2), (39, 1.0)], _spectra())
    W, learned = adapt_to_piece(cal, base, C, notes, FR)
    assert learned == [] and W is cal.W


@pytest.mark.parametrize("bad", ["shape", "negative"])
def test_templates_file_keeps_the_recorded_templates(tmp_path, bad):
    from unmf_core.errors import TemplateError
    from unmf_core.transcription.templates import read_templates

    cal = _calibration([15, 27, 39])
    cal.save(tmp_path / "t.npz")
    back = read_templates(tmp_path / "t.npz", P)
    np.testing.assert_array_equal(back.own, cal.own)
    assert read_templates(tmp_path / "t.npz").meta == cal.meta
    Templates(cal.W, P, "plain").save(tmp_path / "plain.npz")
    assert read_templates(tmp_path / "plain.npz").own is None
    broken = cal.own[:100] if bad == "shape" else -cal.own
    Templates(cal.W, P, "broken", [], {}, broken).save(tmp_path / "b.npz")
    with pytest.raises(TemplateError, match="malformed recorded templates"):
        read_templates(tmp_path / "b.npz")
