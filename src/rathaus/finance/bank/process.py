"""Parse a large camt.053 file in a separate process, next to the import that books it.

Why a process: the import of a bank statement is CPU-bound Python on both sides: the parser
(lxml events into ``Entry`` objects, fingerprints, Kassenzeichen candidates) and the booking (matching,
ledger rows, COPY). A parser *thread* shares the interpreter lock with the booking, so the two only
overlap while the booking waits for PostgreSQL. A parser *process* runs on another core and takes the
parsing off the importing process, which then only unpickles the entries (tuples of their fields made
into instances). Measurements: docs/benchmarks.md.

The child is ``python -m rathaus.finance.bank.process MAX_BYTES``: it reads the file from stdin and
writes length-prefixed pickles to stdout (``("S", StatementInfo)``, ``("E", [entry, ...])`` with each entry as
a tuple of its fields but the statement, fingerprint and candidates computed; ``("X", message, line)`` for a
``CamtError``; ``("D", None)`` at the end). It imports neither Django nor the database: only the
parser (lxml, hardened as in the thread) and the Kassenzeichen rules. The pickles come from our own
child over a pipe, never from outside.

Small files are parsed in the importing process (starting a Python interpreter costs more than parsing
them); the threshold is ``settings.RATHAUS_CAMT_PROCESS_BYTES``.
"""

from __future__ import annotations

import dataclasses
import os
import pickle
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from .. import kassenzeichen as kzlib
from .camt import parse_camt053
from .camt_model import CamtError, Entry, StatementInfo, Transaction
from .camt_xml import CountingReader

BATCH = 250
_HEADER = 4
# Entries travel as tuples of their fields (in this order), not as pickled dataclass instances: unpickling an
# instance builds a state dict and interns every key (in the importing process, for every entry); a tuple is
# read in C and put into a fresh instance's __dict__ with one update, cheaper in both processes.
_ENTRY_FIELDS = tuple(f.name for f in dataclasses.fields(Entry) if f.name != "statement")
_TX_FIELDS = tuple(f.name for f in dataclasses.fields(Transaction))
_TXS = _ENTRY_FIELDS.index("transactions")


def _prepare(entry: Entry) -> None:
    """What the importer needs of an entry beyond the parser's fields, computed here in the child."""
    entry.precomputed_fingerprint = entry.fingerprint()
    if entry.credit and not entry.reversal:
        for tx in entry.transactions:
            tx.kz_candidates = kzlib.candidates_in(tx.creditor_reference, tx.remittance, tx.end_to_end_id,
                                                   entry.additional_info)


def _as_tuple(entry: Entry) -> tuple:
    values = [getattr(entry, name) for name in _ENTRY_FIELDS]
    values[_TXS] = [tuple(getattr(tx, name) for name in _TX_FIELDS) for tx in entry.transactions]
    return tuple(values)


def _from_tuple(values: tuple, statement: StatementInfo | None, new=object.__new__) -> Entry:
    """The entry as the child had it (the same field values; dataclass instances made as unpickling makes
    them, without calling __init__)."""
    entry = new(Entry)
    state = entry.__dict__
    state["statement"] = statement
    state.update(zip(_ENTRY_FIELDS, values, strict=True))
    txs = []
    for tx_values in values[_TXS]:
        tx = new(Transaction)
        tx.__dict__.update(zip(_TX_FIELDS, tx_values, strict=True))
        txs.append(tx)
    state["transactions"] = txs
    return entry


def _child(max_bytes: int) -> int:
    out = sys.stdout.buffer

    def send(obj: Any) -> None:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        out.write(len(data).to_bytes(_HEADER, "big"))
        out.write(data)

    info: StatementInfo | None = None
    batch: list[tuple] = []
    try:
        for entry in parse_camt053(sys.stdin.buffer, max_bytes=max_bytes):
            if entry.statement is not info:
                if batch:
                    send(("E", batch))
                    batch = []
                info = entry.statement
                send(("S", info))
            _prepare(entry)
            batch.append(_as_tuple(entry))  # without the statement: the parent puts it back
            if len(batch) >= BATCH:
                send(("E", batch))
                batch = []
        if batch:
            send(("E", batch))
        send(("D", None))
    except CamtError as e:
        send(("X", e.message, e.line))
    except BrokenPipeError:  # the importer stopped reading (its own error): nothing to report
        return 1
    out.flush()
    return 0


def _feed(source: Any, stdin) -> None:
    """Copy the source into the child's stdin (in a thread: the pipe holds only 64 KB). The parser's own
    reader takes bytes, paths and file objects alike; the size limit is the child's to enforce."""
    reader = CountingReader(source, sys.maxsize)
    try:
        for chunk in reader.chunks():
            stdin.write(chunk)
    except (BrokenPipeError, OSError, ValueError):
        pass  # the child stopped reading (too large, malformed) or was stopped; it says why
    finally:
        reader.close()
        try:
            stdin.close()
        except OSError:
            pass


def _read_exact(stream, n: int) -> bytes:
    buf = stream.read(n)
    if buf is None or len(buf) != n:
        raise EOFError
    return buf


def parse_camt053_parallel(source: Any, *, max_bytes: int) -> Iterator[Entry]:
    """`parse_camt053` in a child process: the same entries (with `precomputed_fingerprint` and the
    transactions' `kz_candidates` filled in), the same `CamtError`s. `source` as for `parse_camt053`;
    a file object is read from its current position."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parents[3]), *filter(None, [os.environ.get("PYTHONPATH")])])}
    proc = subprocess.Popen([sys.executable, "-m", "rathaus.finance.bank.process", str(max_bytes)],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env)
    feeder = threading.Thread(target=_feed, args=(source, proc.stdin), name="camt-feed", daemon=True)
    feeder.start()
    out = proc.stdout
    info: StatementInfo | None = None
    try:
        while True:
            try:
                size = int.from_bytes(_read_exact(out, _HEADER), "big")
                kind, *payload = pickle.loads(_read_exact(out, size))  # noqa: S301 - our own child's output
            except EOFError:
                code = proc.wait()
                raise RuntimeError(f"Der Leseprozess für den Kontoauszug endete unerwartet (Code {code}).") from None
            if kind == "E":
                for values in payload[0]:
                    yield _from_tuple(values, info)
            elif kind == "S":
                info = payload[0]
            elif kind == "X":
                raise CamtError(payload[0], payload[1])
            else:  # "D"
                return
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
        out.close()
        feeder.join()


def source_size(source: Any) -> int | None:
    """The number of bytes still to read from `source`, if that can be known without reading it."""
    if isinstance(source, bytes | bytearray | memoryview):
        return memoryview(source).nbytes
    if isinstance(source, str | os.PathLike):
        try:
            return os.path.getsize(source)
        except OSError:
            return None
    try:
        pos = source.tell()
        end = source.seek(0, os.SEEK_END)
        source.seek(pos)
        return end - pos
    except (AttributeError, OSError, ValueError):
        return None


if __name__ == "__main__":
    sys.exit(_child(int(sys.argv[1])))
