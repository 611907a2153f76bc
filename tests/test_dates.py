"""Data.Dates: every input string names one date, the splits are fixed and disjoint, the
tokens round-trip and the data layer serves padded batches."""
import calendar
import datetime

import numpy as np
import pytest

from Data import Dates


@pytest.fixture(scope="module")
def every_rendering():
    """``{text: iso}`` of every date of the range in every format whose years hold it;
    fails on the first text that two dates share."""
    answers = {}
    day = Dates.FIRST
    while day <= Dates.LAST:
        for fmt in Dates.FORMATS:
            if fmt.years[0] <= day.year <= fmt.years[1]:
                text = fmt.render(day)
                seen = answers.setdefault(text, day.isoformat())
                assert seen == day.isoformat(), f"{text!r} reads as {seen} and {day}"
        day += datetime.timedelta(days=1)
    return answers


@pytest.fixture(scope="module")
def splits():
    return Dates.split()


def test_each_format_renders_its_example():
    assert len(Dates.FORMATS) >= 8
    for fmt in Dates.FORMATS:
        assert fmt.render(datetime.date(1994, 9, 27)) == fmt.example


def test_weekdays_are_right():
    # Known days, then every day of a leap year against the calendar module.
    long_date = Dates.FORMATS[0].render
    for date, weekday in (((1900, 1, 1), "monday"), ((1969, 7, 20), "sunday"),
                          ((2000, 1, 1), "saturday"), ((2099, 12, 31), "thursday")):
        assert long_date(datetime.date(*date)).startswith(weekday + ", ")
    for ordinal in range(datetime.date(2024, 1, 1).toordinal(), datetime.date(2025, 1, 1).toordinal()):
        day = datetime.date.fromordinal(ordinal)
        assert long_date(day).split(",")[0] == calendar.day_name[day.weekday()].lower()


def test_no_string_names_two_dates(every_rendering):
    # The fixture fails on a shared text; here: its size is every (date, format) pair,
    # and every text is written in the input vocabulary.
    days = (Dates.LAST - Dates.FIRST).days + 1
    century = (datetime.date(2050, 1, 1) - datetime.date(1950, 1, 1)).days
    short = sum(fmt.years == Dates.CENTURY for fmt in Dates.FORMATS)
    assert short and len(every_rendering) == (len(Dates.FORMATS) - short) * days + short * century
    for text in every_rendering:
        Dates.encode(text)


def test_input_steps_is_the_longest_text_a_format_writes(every_rendering):
    longest = max(every_rendering, key=len)
    assert Dates.INPUT_STEPS == len(longest)
    tokens = Dates.sources([longest, "9/6/44"])
    assert tokens.shape == (2, Dates.INPUT_STEPS) and tokens.dtype == np.int64
    assert [Dates.decode(row) for row in tokens] == [longest, "9/6/44"]
    np.testing.assert_array_equal(tokens[1, 6:], Dates.PAD)
    with pytest.raises(ValueError, match=rf"Data\.Dates\.sources: expected texts of at most "
                                         rf"INPUT_STEPS = {Dates.INPUT_STEPS} characters, got "
                                         rf"{len(longest) + 1} in '{longest} '"):
        Dates.sources([longest + " "])


def test_two_digit_years_keep_to_one_century():
    # "9/27/94" read over the whole range would be 1994 or 2094.
    two_digits = [fmt for fmt in Dates.FORMATS if "94" in fmt.example and "1994" not in fmt.example]
    assert two_digits and all(fmt.years == (1950, 2049) for fmt in two_digits)
    assert Dates.FORMATS[-2].render(datetime.date(1994, 9, 27)) == \
        Dates.FORMATS[-2].render(datetime.date(2094, 9, 27))


def test_splits_are_disjoint_right_and_of_the_promised_sizes(splits, every_rendering):
    train, validation, test = splits
    assert (len(train), len(validation), len(test)) == (40_000, 5_000, 5_000)
    texts = [set(text for text, _ in part) for part in splits]
    assert sum(map(len, texts)) == 50_000                      # distinct within each split
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    for part in splits:
        for text, iso in part:
            assert every_rendering[text] == iso
    years = [int(iso[:4]) for _, iso in train]
    assert min(years) == 1900 and max(years) == 2099
    examples = {fmt.example for fmt in Dates.FORMATS}
    for part in splits:                                        # every format in every split
        kinds = set()
        for text, iso in part:
            day = datetime.date.fromisoformat(iso)
            kinds.update(fmt.example for fmt in Dates.FORMATS
                         if fmt.years[0] <= day.year <= fmt.years[1] and fmt.render(day) == text)
        assert kinds == examples


def test_splits_are_deterministic(splits):
    assert Dates.split() == splits
    assert Dates.split(seed=1)[2] != splits[2]
    assert Dates.split(seed=1, sizes=(10, 2, 3)) == Dates.split(seed=1, sizes=(10, 2, 3))


def test_tokens_round_trip():
    text = "Tue, 27 Sep 1994"
    tokens = Dates.encode(text)
    assert min(tokens) >= 1 and max(tokens) < Dates.INPUT_VOCABULARY
    assert Dates.decode(tokens + [Dates.PAD] * 3) == text
    target = Dates.encode_target("1994-09-27")
    assert len(target) == Dates.TARGET_STEPS and target[-1] == Dates.END
    assert max(target) < Dates.OUTPUT_VOCABULARY and Dates.START not in target
    assert Dates.decode_target([Dates.START] + target + [Dates.PADDING]) == "1994-09-27"


def test_characters_outside_the_vocabulary_are_refused():
    with pytest.raises(ValueError, match=r"Data\.Dates\.encode: expected characters of .*"
                                         r"got '\.', 'é' in '27 Sép 1994\.'"):
        Dates.encode("27 Sép 1994.")
    with pytest.raises(ValueError, match=r"Data\.Dates\.encode_target: .* got '/'"):
        Dates.encode_target("1994/09/27")


def test_data_layer_serves_batches_padded_to_one_length():
    """Every batch, the validation and the test set: INPUT_STEPS tokens, however short the
    longest text of the batch (the encoder reads the padding; translate pads alike)."""
    np.random.seed(0)
    data = Dates.DatesData(8, sizes=(50, 10, 20))
    assert len(data) == 50
    widths = set()
    for _ in range(7):
        tokens, labels = data.next()
        assert tokens.shape == (len(labels), Dates.INPUT_STEPS)
        widths.add(max(len(Dates.decode(row)) for row in tokens))
    assert min(widths) < Dates.INPUT_STEPS          # some batch's longest text is shorter
    tokens, labels = data.next()
    assert tokens.dtype == np.int64 and tokens.shape[0] == 8
    assert labels.shape == (8, Dates.TARGET_STEPS, Dates.OUTPUT_VOCABULARY)
    np.testing.assert_array_equal(labels.sum(axis=-1), 1)
    texts = [Dates.decode(row) for row in tokens]
    answers = dict(data.train_pairs)
    assert [Dates.decode_target(row.argmax(axis=-1)) for row in labels] == \
        [answers[text] for text in texts]
    start = Dates.decoder_inputs(labels)
    assert start.shape == labels.shape[:2]
    np.testing.assert_array_equal(start[:, 0], Dates.START)
    np.testing.assert_array_equal(start[:, 1:], labels.argmax(axis=-1)[:, :-1])
    test_tokens, test_labels = data.get_test_set()
    assert test_tokens.shape == (len(test_labels), Dates.INPUT_STEPS) and len(test_labels) == 20
    assert data.get_validation_set()[0].shape == (10, Dates.INPUT_STEPS)
    assert [Dates.decode(row) for row in test_tokens] == [t for t, _ in data.test_pairs]


def test_padded_target_steps_are_zero_rows():
    targets = np.array([Dates.encode_target("1994-09-27")[:4] + [Dates.PADDING] * 2])
    labels = Dates.labels(targets)
    np.testing.assert_array_equal(labels.sum(axis=-1), [[1, 1, 1, 1, 0, 0]])
    np.testing.assert_array_equal(Dates.decoder_inputs(labels)[0, 5], Dates.END)
