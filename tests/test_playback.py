"""PlaybackTracker and PlaybackQueue: what was queued, what was heard (synchronous, no loop)."""

from __future__ import annotations

from voxrelay.session.playback import Interruption, PlaybackQueue, PlaybackTracker

RATE = 24000


def ms(n: int) -> int:
    """Samples in `n` milliseconds at 24 kHz."""
    return n * RATE // 1000


def test_played_audio_is_counted_per_item_in_order():
    t = PlaybackTracker(RATE)
    t.queued("a", ms(300))
    t.queued("b", ms(500))
    t.played(ms(400))
    assert (t.played_ms("a"), t.played_ms("b")) == (300, 100)
    assert t.current() == "b"
    assert t.pending_samples == ms(400)


def test_interrupt_cuts_the_current_item_at_what_was_played():
    t = PlaybackTracker(RATE)
    t.queued("a", ms(1000))
    t.played(ms(250))
    cut = t.interrupt()
    assert cut == Interruption("a", played_ms=250, audio_ms=1000)
    assert cut.dropped_ms == 750
    assert t.was_cut("a") and t.pending_samples == 0
    assert not t.queued("a", ms(100))  # late audio of a cut item is refused
    assert t.audio_ms("a") == 1000
    assert t.interrupt() is None  # nothing plays any more


def test_an_item_still_arriving_counts_as_playing_after_the_buffer_drains():
    t = PlaybackTracker(RATE)
    t.queued("a", ms(200))
    t.played(ms(200))
    assert t.current() == "a"  # more audio may come: the reply is not over
    cut = t.interrupt()
    assert cut is not None and cut.played_ms == cut.audio_ms == 200


def test_finished_and_fully_played_means_nothing_to_interrupt():
    t = PlaybackTracker(RATE)
    t.queued("a", ms(200))
    t.finished("a")
    t.played(ms(500))  # reports past the end are ignored
    assert t.current() is None and t.interrupt() is None
    assert t.played_ms("a") == 200


def test_positions_round_down_so_truncate_never_passes_the_end():
    t = PlaybackTracker(RATE)
    t.queued("a", 23)  # 0.96 ms
    t.played(23)
    assert t.played_ms("a") == 0 and t.audio_ms("a") == 0
    assert t.played_ms("unknown") == 0


def test_queue_reports_pulled_audio_as_played_and_clears():
    t = PlaybackTracker(RATE)
    q = PlaybackQueue(t)
    t.queued("a", ms(100))
    q.play(bytes(ms(100) * 2))
    assert len(q.pull_padded(ms(40))) == ms(40) * 2
    assert t.played_ms("a") == 40
    assert len(q.pull_padded(ms(100))) == ms(100) * 2  # the last 40 ms padded with silence
    assert t.played_ms("a") == 100
    q.play(bytes(ms(50) * 2))
    q.clear()
    assert q.pending_samples == 0 and q.pull(10) == b""


def test_queue_is_bounded_and_counts_drops():
    t = PlaybackTracker(8000)
    q = PlaybackQueue(t, max_s=0.01)  # 80 samples
    q.play(bytes(200))  # 100 samples
    assert q.pending_samples == 80 and q.dropped_samples == 20


def test_queue_at_the_device_rate_reports_in_the_tracker_rate():
    t = PlaybackTracker(RATE)
    q = PlaybackQueue(t, sample_rate=44100)
    t.queued("a", ms(1000))
    q.play(bytes(44100 * 2))
    for _ in range(10):
        q.pull(4410)  # 100 ms at 44.1 kHz
    assert t.played_ms("a") == 1000 and q.pending_samples == 0
