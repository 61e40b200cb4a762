// The client's view of one room: messages ordered by seq, duplicates dropped, and the
// highest seq below which nothing is missing (what `join {after}` sends on resume).
// Pure data: no DOM, no I/O.

export class RoomLog {
  constructor(room) {
    this.room = room;
    this.reset();
  }

  // Forget everything (a `joined` with `reset: true` replaces the view of the room).
  reset() {
    this.bySeq = new Map();
    this.seqs = []; // ascending
    this.keys = new Set(); // `${userId}:${msgId}` of every message held
    // Highest seq with none missing at or below it since the view was (re)built, or
    // null when unknown (before the first page of a fresh join has been received).
    this.watermark = null;
    this.above = new Set(); // seqs held above watermark + 1
    this.more = null; // older history on the server: null = unknown
  }

  get size() {
    return this.seqs.length;
  }

  get lowestSeq() {
    return this.seqs.length ? this.seqs[0] : null;
  }

  get highestSeq() {
    return this.seqs.length ? this.seqs[this.seqs.length - 1] : null;
  }

  get messages() {
    return this.seqs.map((seq) => this.bySeq.get(seq));
  }

  has(message) {
    return this.bySeq.has(message.seq) || this.keys.has(keyOf(message));
  }

  // Insert a message; returns its index in seq order, or -1 for a duplicate (same seq,
  // or same sender and msgId) or a message without a usable seq.
  add(message) {
    const seq = message.seq;
    if (!Number.isSafeInteger(seq) || seq < 1 || this.has(message)) {
      return -1;
    }
    this.bySeq.set(seq, message);
    this.keys.add(keyOf(message));
    const index = insertionIndex(this.seqs, seq);
    this.seqs.splice(index, 0, seq);
    if (this.watermark === null || seq > this.watermark) {
      this.above.add(seq);
      this.advance();
    }
    return index;
  }

  // A join's replay is complete and the server said the room's latest seq was `limit`:
  // every seq up to the highest one held (at or below `limit`) that is still missing does
  // not exist (its write failed). Seqs above that may still be in flight, so they stay
  // missing until they arrive or a later join settles past them.
  settle(limit) {
    for (let i = this.seqs.length - 1; i >= 0; i -= 1) {
      const seq = this.seqs[i];
      if (seq <= limit) {
        if (this.watermark === null || seq > this.watermark) {
          this.watermark = seq;
        }
        break;
      }
    }
    this.advance();
  }

  advance() {
    if (this.watermark === null) {
      return;
    }
    while (this.above.has(this.watermark + 1)) {
      this.watermark += 1;
    }
    for (const seq of this.above) {
      if (seq <= this.watermark) {
        this.above.delete(seq);
      }
    }
  }

  // What `join` sends as `after` (undefined: nothing known, ask for the latest page).
  get after() {
    return this.watermark === null ? undefined : this.watermark;
  }
}

function keyOf(message) {
  return `${message.userId}:${message.msgId}`;
}

function insertionIndex(sorted, value) {
  // Messages mostly arrive in order: look from the end first.
  if (!sorted.length || sorted[sorted.length - 1] < value) {
    return sorted.length;
  }
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (sorted[mid] < value) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}
