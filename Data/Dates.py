"""Human-written dates and their ISO form, for a sequence-to-sequence model (offline).

Every example is a date between 1900-01-01 and 2099-12-31 written in one of these
formats (shown for 1994-09-27), and its answer ``date.isoformat()``, "1994-09-27":

    ==================================  =========  ===============================
    format                              years      after
    ==================================  =========  ===============================
    ``tuesday, september 27, 1994``     1900-2099  US long date, lower case
    ``Tuesday, September 27, 1994``     1900-2099  US long date
    ``SEPTEMBER 27, 1994``              1900-2099  US date, upper case
    ``september 27, 1994``              1900-2099  US date, lower case
    ``the 27th of september, 1994``     1900-2099  spoken English
    ``27 september 1994``               1900-2099  British date, lower case
    ``27 Sep 1994``                     1900-2099  British date, abbreviated month
    ``Tue, 27 Sep 1994``                1900-2099  RFC 5322 section 3.3 (e-mail)
    ``09/27/1994``                      1900-2099  US numeric MM/DD/YYYY
    ``9/27/94``                         1950-2049  US numeric M/D/YY
    ``27-SEP-94``                       1950-2049  Oracle's DD-MON-RR
    ==================================  =========  ===============================

Every string names exactly one date (``tests/test_dates.py`` renders every date in
every format and checks it): a two-digit year appears only in formats limited to one
century window, 1950-2049, and numbers alone are always month first (no day-first
numeric form such as 27/09/1994). Weekdays come from ``datetime.date.weekday``; the
names are spelled out here, so the locale cannot change them.

The examples: ``examples(count, seed)`` draws a date uniformly from the range, then a
format uniformly among those whose years hold it, with ``np.random.default_rng(seed)``,
and keeps each input string once. ``split(seed)`` cuts the first 40 000 / 5 000 / 5 000
of them into training, validation and test sets, disjoint by input string.

Tokens. Input: ``PAD`` = 0, then the characters of ``INPUT_CHARS`` from 1; every source
is padded with PAD at the end to ``INPUT_STEPS`` = 29 tokens, the longest text a format
writes ("wednesday, september 27, 1994"), in training, validation, test and translation
alike (``sources``): the encoder reads the padding, so the state it hands the decoder
depends on how much there is, and one fixed length makes it the same everywhere. Output:
``END`` = 0, ``START`` = 1, then ``OUTPUT_CHARS`` ("-" and the digits) from 2. A target
is the answer then END, 11 tokens; a padded target step is ``PADDING`` (-1), which
``labels`` turns into an all-zero row (``CrossEntropyLoss`` then leaves it out), as in
``Data.Names``.
"""
import datetime
import string
from collections import namedtuple

import numpy as np

import _checks
from . import Names
from .base import ArrayData

MONTHS = ("january", "february", "march", "april", "may", "june", "july", "august",
          "september", "october", "november", "december")
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FIRST, LAST = datetime.date(1900, 1, 1), datetime.date(2099, 12, 31)
CENTURY = (1950, 2049)            # the years of the formats with a two-digit year
SIZES = (40_000, 5_000, 5_000)    # training, validation, test

INPUT_CHARS = " ,-/0123456789" + string.ascii_lowercase + string.ascii_uppercase
PAD = 0
INPUT_VOCABULARY = len(INPUT_CHARS) + 1      # 67
OUTPUT_CHARS = "-0123456789"
END, START = 0, 1
OUTPUT_VOCABULARY = len(OUTPUT_CHARS) + 2    # 13
PADDING = Names.PADDING                      # -1: a padded target step
TARGET_STEPS = len("1994-09-27") + 1         # the answer and END


def _month(d):
    return MONTHS[d.month - 1]


def _weekday(d):
    return WEEKDAYS[d.weekday()]


def _ordinal(day):
    """1 -> '1st', 2 -> '2nd', 11 -> '11th', 23 -> '23rd'."""
    suffix = "th" if 11 <= day <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


Format = namedtuple("Format", "example years render")
FULL = (FIRST.year, LAST.year)
FORMATS = (
    Format("tuesday, september 27, 1994", FULL,
           lambda d: f"{_weekday(d)}, {_month(d)} {d.day}, {d.year}"),
    Format("Tuesday, September 27, 1994", FULL,
           lambda d: f"{_weekday(d).title()}, {_month(d).title()} {d.day}, {d.year}"),
    Format("SEPTEMBER 27, 1994", FULL, lambda d: f"{_month(d).upper()} {d.day}, {d.year}"),
    Format("september 27, 1994", FULL, lambda d: f"{_month(d)} {d.day}, {d.year}"),
    Format("the 27th of september, 1994", FULL,
           lambda d: f"the {_ordinal(d.day)} of {_month(d)}, {d.year}"),
    Format("27 september 1994", FULL, lambda d: f"{d.day} {_month(d)} {d.year}"),
    Format("27 Sep 1994", FULL, lambda d: f"{d.day} {_month(d)[:3].title()} {d.year}"),
    Format("Tue, 27 Sep 1994", FULL,
           lambda d: f"{_weekday(d)[:3].title()}, {d.day} {_month(d)[:3].title()} {d.year}"),
    Format("09/27/1994", FULL, lambda d: f"{d.month:02d}/{d.day:02d}/{d.year}"),
    Format("9/27/94", CENTURY, lambda d: f"{d.month}/{d.day}/{d.year % 100:02d}"),
    Format("27-SEP-94", CENTURY, lambda d: f"{d.day:02d}-{_month(d)[:3].upper()}-{d.year % 100:02d}"),
)

# The longest text any format writes: every day of the leap year 2000 in every format (a
# text's length depends on the year only through its digits, 4 or 2 in every format's
# range, and a year holds every month, weekday and day of the month).
INPUT_STEPS = max(len(f.render(datetime.date(2000, 1, 1) + datetime.timedelta(days=k)))
                  for f in FORMATS for k in range(366))                              # 29


def examples(count, seed=0):
    """``count`` pairs ``(text, iso)`` with distinct texts, drawn as the module says."""
    count = _checks.size("Data.Dates.examples", "count", count)
    rng = np.random.default_rng(seed)
    days = (LAST - FIRST).days + 1
    pairs = {}
    while len(pairs) < count:
        for day, pick in zip(rng.integers(0, days, count), rng.random(count)):
            date = FIRST + datetime.timedelta(days=int(day))
            fits = [f for f in FORMATS if f.years[0] <= date.year <= f.years[1]]
            text = fits[int(pick * len(fits))].render(date)
            pairs.setdefault(text, date.isoformat())
            if len(pairs) == count:
                break
    return list(pairs.items())


def split(seed=0, sizes=SIZES):
    """``(train, validation, test)`` lists of ``(text, iso)`` pairs, disjoint by text."""
    sizes = [_checks.size("Data.Dates.split", "sizes", n) for n in sizes]
    pairs = examples(sum(sizes), seed)
    a, b = sizes[0], sizes[0] + sizes[1]
    return pairs[:a], pairs[a:b], pairs[b:]


def _tokens(text, chars, offset, function):
    unknown = sorted(set(text) - set(chars))
    if unknown:
        raise ValueError(f"Data.Dates.{function}: expected characters of {chars!r}, got "
                         f"{', '.join(map(repr, unknown))} in {text!r}")
    return [chars.index(c) + offset for c in text]


def encode(text):
    """``'9/27/94'`` -> input tokens (no padding); refuses characters outside INPUT_CHARS."""
    return _tokens(text, INPUT_CHARS, 1, "encode")


def decode(tokens):
    """Input tokens -> the text, PAD left out."""
    return "".join(INPUT_CHARS[int(t) - 1] for t in tokens if int(t) != PAD)


def encode_target(iso):
    """``'1994-09-27'`` -> output tokens of its characters, then END."""
    return _tokens(iso, OUTPUT_CHARS, 2, "encode_target") + [END]


def decode_target(tokens):
    """Output tokens -> the text before the first END (START and PADDING left out)."""
    text = []
    for t in map(int, tokens):
        if t == END:
            break
        if t >= 2:
            text.append(OUTPUT_CHARS[t - 2])
    return "".join(text)


def sources(texts):
    """Texts -> int64 tokens ``(n, INPUT_STEPS)``, each padded with PAD at the end to the
    one length of every source (the module docstring says why); refuses a text longer than
    INPUT_STEPS or with characters outside INPUT_CHARS."""
    inputs = np.full((len(texts), INPUT_STEPS), PAD, dtype=np.int64)
    for i, text in enumerate(texts):
        if len(text) > INPUT_STEPS:
            raise ValueError(f"Data.Dates.sources: expected texts of at most INPUT_STEPS = "
                             f"{INPUT_STEPS} characters, got {len(text)} in {text!r}")
        tokens = encode(text)
        inputs[i, :len(tokens)] = tokens
    return inputs


def pad(pairs):
    """Pairs -> ``(inputs, targets)``: int64 ``(n, INPUT_STEPS)`` tokens (``sources``) and
    int64 ``(n, TARGET_STEPS)`` targets."""
    targets = np.array([encode_target(iso) for _, iso in pairs], dtype=np.int64)
    return sources([text for text, _ in pairs]), targets.reshape(len(pairs), TARGET_STEPS)


def labels(targets, dtype=np.float64):
    """Targets ``(batch, time)`` -> one-hot ``(batch, time, OUTPUT_VOCABULARY)``; PADDING
    steps are all-zero rows."""
    return Names.labels(targets, dtype, OUTPUT_VOCABULARY)


def decoder_inputs(label_batch):
    """Teacher forcing: one-hot labels ``(batch, time, OUTPUT_VOCABULARY)`` -> the decoder's
    input tokens ``(batch, time)``: START, then the target up to its last step (an all-zero
    label row gives END)."""
    y = np.asarray(label_batch)
    tokens = np.where(y.any(axis=-1), y.argmax(axis=-1), END)
    return np.concatenate([np.full((len(y), 1), START, dtype=np.int64), tokens[:, :-1]], axis=1)


class DatesData(ArrayData):
    """Dates to ISO as a data layer.

    ``next()`` gives ``(tokens, labels)``: input tokens ``(batch, INPUT_STEPS)`` of the
    human-written dates, each padded with PAD to INPUT_STEPS, and one-hot labels
    ``(batch, TARGET_STEPS, OUTPUT_VOCABULARY)`` of the answers and END.
    ``decoder_inputs(labels)`` gives the decoder's input for teacher forcing. The
    validation and test sets come padded the same way, as does ``Seq2Seq.translate``: the
    model sees one length of source everywhere. ``len()`` is the number of training
    examples.

    Args:
        batch_size: examples per training batch.
        seed: the seed of ``split``; the same seed gives the same three sets.
        sizes: ``(train, validation, test)`` sizes.
        dtype: float dtype of the labels (default float64).
        subset: train on the first ``subset`` training examples only (None: all);
            validation and test stay whole.

    Attributes:
        train_pairs, validation_pairs, test_pairs: the ``(text, iso)`` pairs.
    """

    def __init__(self, batch_size, seed=0, sizes=SIZES, dtype=np.float64, subset=None):
        super().__init__(batch_size)
        self.dtype = _checks.float_dtype("DatesData", dtype)
        self.train_pairs, self.validation_pairs, self.test_pairs = split(seed, sizes)
        if subset is not None:
            subset = _checks.size("DatesData", "subset", subset, 1, len(self.train_pairs))
            self.train_pairs = self.train_pairs[:subset]
        self._train = pad(self.train_pairs)
        self._validation = pad(self.validation_pairs)
        self._test = pad(self.test_pairs)

    def _batch(self, inputs, targets):
        return inputs, labels(targets, self.dtype)

    def get_test_set(self):
        """``(tokens, labels)`` of every test example, tokens ``(n, INPUT_STEPS)``."""
        return self._batch(*self._test)

    def get_validation_set(self):
        """``(tokens, labels)`` of every validation example, tokens ``(n, INPUT_STEPS)``."""
        return self._batch(*self._validation)
