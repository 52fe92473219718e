/**
 * What one receiver holds of one conversation, by seq (1, 2, 3… with no gaps on the server): `last`,
 * the highest seq held with nothing missing below it, and the seqs held above it. Messages can
 * arrive out of order (two senders on two gateways), so a hole is only a gap once it outlives a grace
 * period; then the receiver asks `sync` for it, and what an answer that had to hold it lacks is missed
 * (see `ChatMember.fill`).
 */
export class SeqTracker {
  /**
   * @param {string} conversationId
   * @param {boolean} [checkDuplicates] remember every sender's clientMsgId → id (costs memory).
   */
  constructor(conversationId, checkDuplicates = false) {
    this.conversationId = conversationId;
    this.last = 0;
    /** @type {Set<number>} */
    this.above = new Set();
    this.max = 0;
    /**
     * The `epoch` of the last `sync` answer, sent back with the next one.
     *
     * @type {string | undefined}
     */
    this.epoch = undefined;
    /** @type {Map<string, string> | undefined} */
    this.ids = checkDuplicates ? new Map() : undefined;
    this.syncing = false;
    /** @type {import("k6/timers").TimeoutID | undefined} */
    this.gapTimer = undefined;
  }

  /**
   * Records a seq; false when it was already held.
   *
   * @param {number} seq
   */
  add(seq) {
    if (seq <= this.last || this.above.has(seq)) return false;
    if (seq > this.max) this.max = seq;
    if (seq === this.last + 1) {
      this.last = seq;
      while (this.above.delete(this.last + 1)) this.last++;
    } else {
      this.above.add(seq);
    }
    return true;
  }

  /** Some seq below `max` is missing. */
  get hasGap() {
    return this.above.size > 0;
  }

  /**
   * Gives up on every missing seq up to `seq`; returns how many there were.
   *
   * @param {number} seq
   */
  skipTo(seq) {
    let skipped = 0;
    while (this.last < seq) {
      this.last++;
      if (!this.above.delete(this.last)) skipped++;
    }
    while (this.above.delete(this.last + 1)) this.last++;
    return skipped;
  }

  /**
   * For duplicate detection: true when this sender's `clientMsgId` came before with another message
   * id (the server stored a retried send twice).
   *
   * @param {Pick<import("@parley/protocol").Message, "id" | "senderId" | "clientMsgId">} message
   */
  isDuplicate(message) {
    if (!this.ids) return false;
    const key = `${message.senderId}|${message.clientMsgId}`;
    const seen = this.ids.get(key);
    if (seen === undefined) {
      this.ids.set(key, message.id);
      return false;
    }
    return seen !== message.id;
  }
}
