"""Sentence splitting for TTS, whole and streamed."""

from __future__ import annotations

import pytest

from voxrelay.speech.sentences import SentenceChunker, split_sentences


@pytest.mark.parametrize(
    ("text", "sentences"),
    [
        ("Hello there. How are you? Fine!", ["Hello there.", "How are you?", "Fine!"]),
        ("It costs 3.50 dollars. Okay.", ["It costs 3.50 dollars.", "Okay."]),
        ("Dr. Smith met Mr. J. Doe. Then left.", ["Dr. Smith met Mr. J. Doe.", "Then left."]),
        ('He said "stop." Then ran.', ['He said "stop."', "Then ran."]),
        ("Wait... what?", ["Wait...", "what?"]),
        ("Line one\nLine two", ["Line one", "Line two"]),
        ("No end mark", ["No end mark"]),
        ("  ", []),
        ("The answer is no. Okay.", ["The answer is no.", "Okay."]),
    ],
)
def test_split_sentences(text, sentences):
    """Boundaries at end marks followed by space, not inside numbers or abbreviations."""
    assert split_sentences(text) == sentences


def test_streamed_deltas_release_sentences_as_soon_as_complete():
    """A sentence comes out when the space after its end mark arrives, not before."""
    chunker = SentenceChunker()
    out = []
    for delta in ["Sure", ", your order", " ships on May 3.", " It", " costs $4.", "50 total."]:
        out.append(chunker.push(delta))
    assert out == [[], [], [], ["Sure, your order ships on May 3."], [], []]
    assert chunker.flush() == ["It costs $4.50 total."]
    assert chunker.flush() == []


def test_run_on_text_is_cut_at_a_comma():
    """A long sentence without an end mark is cut so TTS can start."""
    text = "word " * 30 + ", and then " + "more " * 40
    pieces = split_sentences(text, max_chars=200)
    assert len(pieces) > 1
    assert all(len(p) <= 200 for p in pieces)
    assert " ".join(pieces).split() == text.split()


def test_first_clause_is_cut_for_a_faster_first_chunk():
    """With first_clause_chars, only the first long sentence is cut at its first comma."""
    text = "Please transfer me to someone in billing, because I was charged twice. Thanks, bye."
    assert split_sentences(text, first_clause_chars=24) == [
        "Please transfer me to someone in billing,",
        "because I was charged twice.",
        "Thanks, bye.",
    ]
    assert split_sentences("Sure, I can help.", first_clause_chars=24) == ["Sure, I can help."]


def test_streamed_first_clause_waits_for_the_space_after_the_comma():
    """The clause is released once the next delta shows the comma ends it."""
    chunker = SentenceChunker(first_clause_chars=24)
    got = [chunker.push(d) for d in ["Of course, let me", " check that order for you,", " it is"]]
    assert got == [[], [], ["Of course, let me check that order for you,"]]
    assert chunker.push(" here. Done, sure. Ok") == ["it is here.", "Done, sure."]
    assert chunker.flush() == ["Ok"]
