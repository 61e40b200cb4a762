// The connection to the chat server: authentication and resume, joins with `after`,
// reconnect with jittered exponential backoff (or the server's `reconnect` hint), and an
// outbox of sends retried with the same msgId until acknowledged. No DOM: state changes
// are announced as events (listed below) for the page to render.

import { RoomLog } from "./roomlog.js";

export const DEFAULT_ROOM = "general";
export const ROOM_PATTERN = /^[a-z0-9][a-z0-9_-]{0,31}$/;

const STORAGE = {
  token: "chatops.token",
  nickname: "chatops.nickname",
  rooms: "chatops.rooms",
};

const BACKOFF_BASE_MS = 500;
const BACKOFF_CAP_MS = 30000;
const HELLO_TIMEOUT_MS = 15000;
const HEARTBEAT_EVERY_MS = 25000;
const HEARTBEAT_TIMEOUT_MS = 10000;
const JOIN_SETTLE_TIMEOUT_MS = 5000;
const ACK_TIMEOUT_MS = 10000;
const RETRY_AFTER_ERROR_MS = 1500;
const TYPING_EVERY_MS = 1500;
const HISTORY_PAGE = 50;
const MAX_ROOMS_DEFAULT = 10;

// Errors after which a send is given up (the same text would be refused again).
const FATAL_SEND_ERRORS = new Set(["invalid_field", "text_too_long", "empty_text", "invalid_room"]);

// Events the client dispatches (CustomEvent; `detail` in braces):
//   state     {state: "connecting"|"online"|"waiting"|"stopped", retryAt?, code?}
//   hello     {userId, nickname, colour, version, task, resumed}
//   rooms     {rooms}                      the rooms this client is in, in order
//   reset     {room}                       the room's view was replaced: render it again
//   message   {room, message, index}       a new message at `index` in seq order
//   outbox    {room, entries}              unacknowledged sends of the room
//   presence  {room, members}
//   typing    {room, userId, nickname}
//   history   {room, more}                 older messages were added (or none left)
//   notice    {text, room?}                something the user should read

// Delay before reconnect attempt `attempt` (0-based): exponential, capped, jittered
// between half and all of it so that clients dropped together do not return together.
export function backoffDelay(attempt, random = Math.random) {
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** Math.min(attempt, 16));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

// A msgId as the protocol wants it: 22 characters of [A-Za-z0-9_-] (128 random bits).
// crypto.getRandomValues works outside secure contexts too, unlike randomUUID.
export function newMsgId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  let binary = "";
  for (const byte of bytes) {
    binary += String.fromCharCode(byte);
  }
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export class ChatClient extends EventTarget {
  constructor({ url, apiBase = "/api", storage, WebSocketImpl = WebSocket, fetchImpl } = {}) {
    super();
    this.url = url;
    this.apiBase = apiBase;
    this.storage = storage;
    this.WebSocketImpl = WebSocketImpl;
    this.fetchImpl = fetchImpl || ((...args) => fetch(...args));
    this.ws = null;
    this.state = "stopped";
    this.identity = null; // from `hello`
    this.authenticated = false; // `hello` received on the current connection
    this.limits = { maxTextLength: 2000, sendsPerSecond: 5, burst: 10, maxRooms: MAX_ROOMS_DEFAULT };
    this.attempt = 0;
    this.reconnectHintMs = null;
    this.timers = new Map(); // name -> timeout id
    this.heartbeat = null;
    this.pingId = 0;
    this.lastFrameAt = 0;
    this.rooms = new Map(); // room -> {log, joined, joinSeq}
    this.outbox = []; // {room, msgId, text, state: queued|inflight|failed, sentAt, retryAt, error}
    this.tokens = this.limits.burst; // client-side send budget, below the server's limit
    this.tokensAt = Date.now();
    this.typingSentAt = new Map();
    const saved = this.load(STORAGE.rooms);
    let rooms = [];
    try {
      rooms = JSON.parse(saved || "[]");
    } catch {
      rooms = [];
    }
    rooms = Array.isArray(rooms) ? rooms.filter((room) => ROOM_PATTERN.test(room)) : [];
    for (const room of rooms.length ? rooms : [DEFAULT_ROOM]) {
      this.rooms.set(room, { log: new RoomLog(room), joined: false, joinSeq: null });
    }
  }

  // ---- public API -------------------------------------------------------------------

  get nickname() {
    return this.identity?.nickname || this.load(STORAGE.nickname) || "";
  }

  get roomNames() {
    return [...this.rooms.keys()];
  }

  roomLog(room) {
    return this.rooms.get(room)?.log || null;
  }

  pending(room) {
    return this.outbox.filter((entry) => entry.room === room);
  }

  start() {
    if (this.state !== "stopped") {
      return;
    }
    this.emit("rooms", { rooms: this.roomNames });
    this.connect();
  }

  stop() {
    this.clearTimers();
    this.setState("stopped");
    this.dropSocket(1000, "bye");
  }

  // Reconnect at once if a reconnect is scheduled (the network came back, the user asked).
  reconnectNow() {
    if (this.state === "waiting") {
      this.clearTimer("reconnect");
      this.connect();
    }
  }

  // The nickname goes with `auth`, so a new one takes effect on a new connection.
  setNickname(nickname) {
    const trimmed = String(nickname).trim();
    const problem = nicknameProblem(trimmed);
    if (problem) {
      this.notice(problem);
      return;
    }
    this.save(STORAGE.nickname, trimmed);
    if (this.identity && trimmed === this.identity.nickname) {
      return;
    }
    if (this.state === "online" || this.state === "connecting") {
      this.dropSocket(1000, "nickname changed");
      this.afterClose({ code: 1000, planned: true });
    }
  }

  join(room) {
    if (!ROOM_PATTERN.test(room)) {
      this.notice(
        "Room names are 1-32 characters: lower-case letters, digits, - and _, starting with a letter or digit.",
      );
      return false;
    }
    if (this.rooms.has(room)) {
      return true;
    }
    if (this.rooms.size >= (this.limits.maxRooms || MAX_ROOMS_DEFAULT)) {
      this.notice(`You can be in at most ${this.limits.maxRooms} rooms; leave one first.`);
      return false;
    }
    this.rooms.set(room, { log: new RoomLog(room), joined: false, joinSeq: null });
    this.saveRooms();
    this.emit("rooms", { rooms: this.roomNames });
    if (this.state === "online") {
      this.sendJoin(room);
    }
    return true;
  }

  leave(room) {
    if (!this.rooms.has(room)) {
      return;
    }
    this.rooms.delete(room);
    this.outbox = this.outbox.filter((entry) => entry.room !== room);
    this.saveRooms();
    if (this.state === "online") {
      this.sendFrame({ type: "leave", room });
    }
    this.emit("rooms", { rooms: this.roomNames });
  }

  // Queue a message; it is sent when the room is joined and retried with the same msgId
  // until the server acknowledges it. Returns the msgId, or null if the text is unusable.
  send(room, text) {
    const body = String(text).trim();
    if (!body || !this.rooms.has(room)) {
      return null;
    }
    if (body.length > this.limits.maxTextLength) {
      this.notice(`Messages are at most ${this.limits.maxTextLength} characters.`, room);
      return null;
    }
    const entry = { room, msgId: newMsgId(), text: body, state: "queued", sentAt: 0, retryAt: 0, error: null };
    this.outbox.push(entry);
    // The message ends the indicator others see, so the next keystroke announces again.
    this.typingSentAt.delete(room);
    this.emitOutbox(room);
    this.flush();
    return entry.msgId;
  }

  // Give up on a failed send (the user dismissed it).
  discard(msgId) {
    const entry = this.outbox.find((item) => item.msgId === msgId);
    if (entry) {
      this.outbox = this.outbox.filter((item) => item !== entry);
      this.emitOutbox(entry.room);
    }
  }

  typing(room) {
    const state = this.rooms.get(room);
    const now = Date.now();
    if (!state?.joined || now - (this.typingSentAt.get(room) || 0) < TYPING_EVERY_MS) {
      return;
    }
    this.typingSentAt.set(room, now);
    this.sendFrame({ type: "typing", room });
  }

  // Fetch the page of history just before the oldest message held, over /api.
  async loadOlder(room) {
    const state = this.rooms.get(room);
    const token = this.load(STORAGE.token);
    if (!state) {
      return;
    }
    const before = state.log.lowestSeq;
    if (before === null || before <= 1) {
      state.log.more = false;
      this.emit("history", { room, more: false });
      return;
    }
    if (!token) {
      this.notice("History is available once connected.", room);
      return;
    }
    const url = `${this.apiBase}/rooms/${encodeURIComponent(room)}/messages?before=${before}&limit=${HISTORY_PAGE}`;
    let response;
    try {
      response = await this.fetchImpl(url, {
        headers: { Authorization: `Bearer ${token}` },
        cache: "no-store",
      });
    } catch {
      this.notice("Could not load older messages: the network is unreachable.", room);
      return;
    }
    if (!response.ok) {
      this.notice(`Could not load older messages (HTTP ${response.status}).`, room);
      return;
    }
    const page = await response.json();
    const current = this.rooms.get(room);
    if (current !== state) {
      return; // left the room meanwhile
    }
    for (const message of Array.isArray(page.messages) ? page.messages : []) {
      this.addMessage(room, { ...message, room });
    }
    state.log.more = Boolean(page.more);
    this.emit("history", { room, more: state.log.more });
  }

  // ---- connection lifecycle -----------------------------------------------------------

  connect() {
    this.clearTimer("reconnect");
    this.setState("connecting");
    let ws;
    try {
      ws = new this.WebSocketImpl(this.url);
    } catch {
      this.afterClose({ code: 1006 });
      return;
    }
    this.ws = ws;
    this.authenticated = false;
    ws.onopen = () => {
      if (ws !== this.ws) {
        return;
      }
      const auth = { type: "auth" };
      const token = this.load(STORAGE.token);
      const nickname = this.load(STORAGE.nickname);
      if (token) {
        auth.token = token;
      }
      if (nickname) {
        auth.nickname = nickname;
      }
      this.sendFrame(auth, true);
    };
    ws.onmessage = (event) => {
      if (ws !== this.ws) {
        return;
      }
      this.lastFrameAt = Date.now();
      let frame;
      try {
        frame = JSON.parse(event.data);
      } catch {
        return;
      }
      if (frame && typeof frame.type === "string") {
        this.handle(frame);
      }
    };
    ws.onclose = (event) => {
      if (ws !== this.ws) {
        return;
      }
      this.ws = null;
      this.afterClose({ code: event.code, reason: event.reason });
    };
    ws.onerror = () => {}; // a close event follows
    this.setTimer("hello", HELLO_TIMEOUT_MS, () => this.abandon("no hello"));
  }

  // Give up on the current socket without waiting for a close handshake that may never
  // come (dead network), then reconnect.
  abandon(reason) {
    if (!this.ws) {
      return;
    }
    this.dropSocket(4000, reason);
    this.afterClose({ code: 1006, reason });
  }

  dropSocket(code, reason) {
    const ws = this.ws;
    this.ws = null;
    this.stopHeartbeat();
    if (ws) {
      ws.onopen = ws.onmessage = ws.onclose = null;
      try {
        ws.close(code, reason);
      } catch {
        // already closed
      }
    }
  }

  afterClose({ code, planned = false }) {
    this.stopHeartbeat();
    this.clearTimer("hello");
    for (const state of this.rooms.values()) {
      state.joined = false;
      state.joinSeq = null;
      this.clearTimer(`settle:${state.log.room}`);
    }
    for (const entry of this.outbox) {
      if (entry.state === "inflight") {
        entry.state = "queued";
      }
    }
    for (const room of this.rooms.keys()) {
      this.emit("presence", { room, members: [] });
      this.emitOutbox(room);
    }
    if (code === 4003) {
      this.remove(STORAGE.token); // forged or expired: the next connection is a new user
    }
    if (this.state === "stopped") {
      return;
    }
    let delay;
    if (planned) {
      delay = 0;
    } else if (code === 1012 && this.reconnectHintMs !== null) {
      delay = this.reconnectHintMs; // the server spreads its clients; it jittered this
    } else if (code === 4003) {
      delay = backoffDelay(0); // token refused: start over as a new user
    } else {
      delay = backoffDelay(this.attempt);
      this.attempt += 1;
    }
    this.reconnectHintMs = null;
    const retryAt = Date.now() + delay;
    this.setState("waiting", { retryAt, code });
    this.setTimer("reconnect", delay, () => this.connect());
  }

  // ---- frames from the server -------------------------------------------------------

  handle(frame) {
    switch (frame.type) {
      case "hello":
        return this.onHello(frame);
      case "joined":
        return this.onJoined(frame);
      case "left":
        return undefined;
      case "message":
        return this.onMessage(frame);
      case "ack":
        return this.onAck(frame);
      case "presence":
        return this.onPresence(frame);
      case "typing":
        if (this.rooms.has(frame.room) && frame.userId !== this.identity?.userId) {
          this.emit("typing", { room: frame.room, userId: frame.userId, nickname: frame.nickname });
        }
        return undefined;
      case "reconnect":
        this.reconnectHintMs = Math.max(0, Number(frame.afterMs) || 0);
        return undefined;
      case "error":
        return this.onError(frame);
      default:
        return undefined; // pong, and frames this client does not know
    }
  }

  onHello(frame) {
    this.clearTimer("hello");
    this.authenticated = true;
    this.identity = {
      userId: frame.userId,
      nickname: frame.nickname,
      colour: frame.colour,
      version: frame.version,
      task: frame.task,
      resumed: Boolean(frame.resumed),
    };
    if (frame.limits && typeof frame.limits === "object") {
      this.limits = { ...this.limits, ...frame.limits };
    }
    this.save(STORAGE.token, frame.resumeToken);
    this.save(STORAGE.nickname, frame.nickname);
    this.attempt = 0;
    this.tokens = Math.max(1, (this.limits.burst || 10) - 2);
    this.tokensAt = Date.now();
    this.setState("online");
    this.emit("hello", { ...this.identity });
    this.startHeartbeat();
    for (const room of this.rooms.keys()) {
      this.sendJoin(room);
    }
  }

  sendJoin(room) {
    const state = this.rooms.get(room);
    const frame = { type: "join", room };
    if (state.log.after !== undefined) {
      frame.after = state.log.after;
    }
    state.joined = false;
    state.joinSeq = null;
    this.sendFrame(frame);
  }

  onJoined(frame) {
    const state = this.rooms.get(frame.room);
    if (!state) {
      return;
    }
    state.joinSeq = Number.isSafeInteger(frame.seq) ? frame.seq : null;
    if (frame.reset) {
      state.log.reset();
      this.emit("reset", { room: frame.room });
    }
    // The replay follows, then a presence frame; should that frame not come, the join
    // still completes.
    this.setTimer(`settle:${frame.room}`, JOIN_SETTLE_TIMEOUT_MS, () => this.settle(frame.room));
  }

  // A join's replay is over: the room is live, queued sends of the room can go.
  settle(room) {
    const state = this.rooms.get(room);
    if (!state || state.joined) {
      return;
    }
    this.clearTimer(`settle:${room}`);
    state.joined = true;
    if (state.joinSeq !== null) {
      state.log.settle(state.joinSeq);
    }
    if (state.log.more === null) {
      state.log.more = (state.log.lowestSeq ?? 1) > 1;
      this.emit("history", { room, more: state.log.more });
    }
    this.flush();
  }

  onMessage(frame) {
    if (!this.rooms.has(frame.room)) {
      return;
    }
    this.resolveSend(frame.room, frame.msgId, frame.userId);
    this.addMessage(frame.room, frame);
  }

  addMessage(room, frame) {
    const state = this.rooms.get(room);
    const message = {
      room,
      seq: frame.seq,
      msgId: String(frame.msgId ?? ""),
      userId: String(frame.userId ?? ""),
      nickname: String(frame.nickname ?? ""),
      text: String(frame.text ?? ""),
      ts: Number(frame.ts) || 0,
      colour: frame.colour ? String(frame.colour) : "",
    };
    const index = state.log.add(message);
    if (index >= 0) {
      this.emit("message", { room, message, index });
    }
  }

  onAck(frame) {
    const entry = this.outbox.find((item) => item.msgId === frame.msgId && item.room === frame.room);
    if (!entry) {
      return;
    }
    this.outbox = this.outbox.filter((item) => item !== entry);
    this.emitOutbox(entry.room);
    // The message frame for it may come later (or was already delivered): add it now so
    // that the sender sees it in place; the later frame is a duplicate by seq.
    if (this.rooms.has(entry.room)) {
      this.addMessage(entry.room, {
        seq: frame.seq,
        msgId: entry.msgId,
        userId: this.identity?.userId,
        nickname: this.identity?.nickname,
        text: entry.text,
        ts: frame.ts,
        colour: this.identity?.colour,
      });
    }
  }

  onPresence(frame) {
    if (!this.rooms.has(frame.room)) {
      return;
    }
    this.settle(frame.room);
    const members = Array.isArray(frame.members) ? frame.members : [];
    this.emit("presence", { room: frame.room, members });
  }

  onError(frame) {
    if (frame.msgId) {
      const entry = this.outbox.find((item) => item.msgId === frame.msgId);
      if (entry) {
        if (FATAL_SEND_ERRORS.has(frame.code)) {
          entry.state = "failed";
          entry.error = frame.message || frame.code;
        } else {
          // store_failed, rate_limited, not_joined, internal: same msgId, a bit later.
          entry.state = "queued";
          entry.retryAt = Date.now() + RETRY_AFTER_ERROR_MS;
          this.setTimer("flush", RETRY_AFTER_ERROR_MS, () => this.flush());
        }
        this.emitOutbox(entry.room);
        return;
      }
    }
    if (!this.authenticated && frame.code === "invalid_field") {
      // The stored nickname was refused at `auth` (the server closes next): connect
      // without it rather than be refused again.
      this.remove(STORAGE.nickname);
    }
    if (frame.code === "invalid_token") {
      // The server closes with 4003 next; reconnect as a new user.
      this.remove(STORAGE.token);
    }
    if (frame.code === "internal" && frame.room && this.rooms.has(frame.room)) {
      // The server could not serve the join (history unavailable): ask again, jittered.
      const room = frame.room;
      this.setTimer(`rejoin:${room}`, RETRY_AFTER_ERROR_MS * (0.5 + Math.random()), () => {
        if (this.authenticated && this.rooms.get(room)?.joined === false) {
          this.sendJoin(room);
        }
      });
    }
    if (frame.code === "invalid_room" || frame.code === "too_many_rooms") {
      if (frame.room && this.rooms.has(frame.room)) {
        this.rooms.delete(frame.room);
        this.saveRooms();
        this.emit("rooms", { rooms: this.roomNames });
      }
    }
    if (frame.code !== "rate_limited") {
      this.notice(frame.message || frame.code, frame.room);
    }
  }

  // ---- outbox ---------------------------------------------------------------------------

  resolveSend(room, msgId, userId) {
    if (!this.identity || userId !== this.identity.userId) {
      return;
    }
    const before = this.outbox.length;
    this.outbox = this.outbox.filter((item) => !(item.msgId === msgId && item.room === room));
    if (this.outbox.length !== before) {
      this.emitOutbox(room);
    }
  }

  // Send what is queued for joined rooms, oldest first, within a send budget a little
  // under the server's rate limit; sends unanswered for too long go again (same msgId).
  flush() {
    this.clearTimer("flush");
    if (this.state !== "online") {
      return;
    }
    const now = Date.now();
    const rate = Math.max(1, (this.limits.sendsPerSecond || 5) * 0.8);
    this.tokens = Math.min(
      Math.max(1, (this.limits.burst || 10) - 2),
      this.tokens + ((now - this.tokensAt) / 1000) * rate,
    );
    this.tokensAt = now;
    const changed = new Set();
    let wait = null;
    for (const entry of this.outbox) {
      if (entry.state === "inflight" && now - entry.sentAt > ACK_TIMEOUT_MS) {
        entry.state = "queued";
      }
      if (entry.state === "inflight") {
        wait = minimum(wait, entry.sentAt + ACK_TIMEOUT_MS - now);
      }
      if (entry.state !== "queued" || !this.rooms.get(entry.room)?.joined) {
        continue;
      }
      if (entry.retryAt > now) {
        wait = minimum(wait, entry.retryAt - now);
        continue;
      }
      if (this.tokens < 1) {
        wait = minimum(wait, ((1 - this.tokens) / rate) * 1000);
        break;
      }
      this.tokens -= 1;
      entry.state = "inflight";
      entry.sentAt = now;
      this.sendFrame({ type: "send", room: entry.room, text: entry.text, msgId: entry.msgId });
      changed.add(entry.room);
    }
    for (const room of changed) {
      this.emitOutbox(room);
    }
    if (wait !== null) {
      this.setTimer("flush", Math.max(50, Math.ceil(wait)), () => this.flush());
    }
  }

  emitOutbox(room) {
    this.emit("outbox", { room, entries: this.pending(room).map((entry) => ({ ...entry })) });
  }

  // ---- heartbeat ----------------------------------------------------------------------

  startHeartbeat() {
    this.stopHeartbeat();
    this.lastFrameAt = Date.now();
    this.heartbeat = setInterval(() => {
      if (!this.ws || this.state !== "online") {
        return;
      }
      if (Date.now() - this.lastFrameAt > HEARTBEAT_EVERY_MS + HEARTBEAT_TIMEOUT_MS) {
        this.abandon("heartbeat timeout");
        return;
      }
      this.pingId += 1;
      this.sendFrame({ type: "ping", id: String(this.pingId) });
    }, HEARTBEAT_EVERY_MS);
  }

  stopHeartbeat() {
    if (this.heartbeat !== null) {
      clearInterval(this.heartbeat);
      this.heartbeat = null;
    }
  }

  // ---- helpers ------------------------------------------------------------------------

  sendFrame(frame, evenIfConnecting = false) {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || (this.state !== "online" && !evenIfConnecting)) {
      return false;
    }
    ws.send(JSON.stringify(frame));
    return true;
  }

  setState(state, detail = {}) {
    this.state = state;
    this.emit("state", { state, ...detail });
  }

  notice(text, room) {
    this.emit("notice", { text: String(text), room });
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  setTimer(name, delay, fn) {
    this.clearTimer(name);
    this.timers.set(
      name,
      setTimeout(() => {
        this.timers.delete(name);
        fn();
      }, delay),
    );
  }

  clearTimer(name) {
    const id = this.timers.get(name);
    if (id !== undefined) {
      clearTimeout(id);
      this.timers.delete(name);
    }
  }

  clearTimers() {
    for (const name of [...this.timers.keys()]) {
      this.clearTimer(name);
    }
    this.stopHeartbeat();
  }

  saveRooms() {
    this.save(STORAGE.rooms, JSON.stringify(this.roomNames));
  }

  load(key) {
    try {
      return this.storage?.getItem(key) ?? null;
    } catch {
      return null; // storage disabled (private mode, quota)
    }
  }

  save(key, value) {
    if (value === undefined || value === null) {
      return;
    }
    try {
      this.storage?.setItem(key, String(value));
    } catch {
      // storage disabled: the session still works, it just does not resume after reload
    }
  }

  remove(key) {
    try {
      this.storage?.removeItem(key);
    } catch {
      // storage disabled
    }
  }
}

// Why the server would refuse this nickname (1-24 characters, no control characters),
// or null.
export function nicknameProblem(nickname) {
  const length = [...nickname].length;
  if (length < 1 || length > 24) {
    return "Nicknames are 1-24 characters.";
  }
  if (/\p{Cc}/u.test(nickname)) {
    return "Nicknames cannot contain control characters.";
  }
  return null;
}

function minimum(current, value) {
  return current === null ? value : Math.min(current, value);
}
