// Wiring: the connection's events to the view, the page's controls to the connection.

import { ChatClient, DEFAULT_ROOM, ROOM_PATTERN } from "./connection.js";
import { View } from "./render.js";

const TYPING_SHOWN_MS = 4000;
const ACTIVE_ROOM_KEY = "chatops.activeRoom";

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage blocked: no resume after reload, everything else works
  }
}

const store = storage();
const scheme = location.protocol === "https:" ? "wss:" : "ws:";
const client = new ChatClient({ url: `${scheme}//${location.host}/ws`, apiBase: "/api", storage: store });
const view = new View(document);

let active = readActive();
const unread = new Map();
const members = new Map(); // room -> presence members
const typists = new Map(); // room -> Map(userId -> {nickname, until})
let typingTimer = null;

function readActive() {
  try {
    return store?.getItem(ACTIVE_ROOM_KEY) || DEFAULT_ROOM;
  } catch {
    return DEFAULT_ROOM;
  }
}

function switchTo(room) {
  if (!client.roomLog(room)) {
    return;
  }
  active = room;
  try {
    store?.setItem(ACTIVE_ROOM_KEY, room);
  } catch {
    // storage blocked
  }
  if (location.hash !== `#${room}`) {
    history.replaceState(null, "", `#${room}`); // a link to this room; no hashchange
  }
  unread.delete(room);
  view.setRooms(client.roomNames, active, unread);
  view.showRoom(room, client.roomLog(room), client.pending(room), members.get(room));
  renderTyping();
  updateTitle();
}

function updateTitle() {
  let total = 0;
  for (const count of unread.values()) {
    total += count;
  }
  document.title = total ? `(${total}) chatops chat` : "chatops chat";
}

function renderTyping() {
  const now = Date.now();
  const room = typists.get(active);
  const names = [];
  if (room) {
    for (const [userId, entry] of room) {
      if (entry.until <= now) {
        room.delete(userId);
      } else {
        names.push(entry.nickname || `user ${userId}`);
      }
    }
  }
  view.setTyping(names);
  clearTimeout(typingTimer);
  if (names.length) {
    typingTimer = setTimeout(renderTyping, 1000);
  }
}

// ---- connection events ----------------------------------------------------------------

client.addEventListener("state", ({ detail }) => view.setConnection(detail.state, detail));

client.addEventListener("hello", ({ detail }) => {
  view.setIdentity(detail);
  view.setTextLimit(client.limits.maxTextLength);
  // Messages already shown were rendered before the user id was known.
  view.showRoom(active, client.roomLog(active), client.pending(active), members.get(active));
});

client.addEventListener("rooms", ({ detail }) => {
  if (!detail.rooms.includes(active)) {
    active = detail.rooms[0] || null;
  }
  for (const room of [...unread.keys()]) {
    if (!detail.rooms.includes(room)) {
      unread.delete(room);
    }
  }
  if (active) {
    switchTo(active);
  } else {
    view.setRooms([], null, unread);
    view.showRoom(null, null, [], []);
  }
});

client.addEventListener("reset", ({ detail }) => {
  if (detail.room === active) {
    view.showRoom(active, client.roomLog(active), client.pending(active), members.get(active));
  }
});

client.addEventListener("message", ({ detail }) => {
  const { room, message, index } = detail;
  typists.get(room)?.delete(message.userId);
  if (room === active) {
    view.insertMessage(message, index);
    renderTyping();
  } else if (message.userId !== client.identity?.userId) {
    unread.set(room, (unread.get(room) || 0) + 1);
    view.setRooms(client.roomNames, active, unread);
    updateTitle();
  }
});

client.addEventListener("outbox", ({ detail }) => {
  if (detail.room === active) {
    view.setPending(detail.entries);
  }
});

client.addEventListener("presence", ({ detail }) => {
  members.set(detail.room, detail.members);
  if (detail.room === active) {
    view.setPresence(detail.members);
  }
});

client.addEventListener("typing", ({ detail }) => {
  if (!typists.has(detail.room)) {
    typists.set(detail.room, new Map());
  }
  typists
    .get(detail.room)
    .set(detail.userId, { nickname: detail.nickname, until: Date.now() + TYPING_SHOWN_MS });
  if (detail.room === active) {
    renderTyping();
  }
});

client.addEventListener("history", ({ detail }) => {
  if (detail.room === active) {
    view.setOlder(client.roomLog(active));
  }
});

client.addEventListener("notice", ({ detail }) => view.notice(detail.text));

// ---- controls -----------------------------------------------------------------------

document.getElementById("send-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("text");
  if (active && client.send(active, input.value)) {
    input.value = "";
  }
  input.focus();
});

document.getElementById("text").addEventListener("input", (event) => {
  if (active && event.target.value.trim()) {
    client.typing(active);
  }
});

document.getElementById("nick-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("nick");
  const nickname = input.value.trim();
  if (nickname) {
    client.setNickname(nickname);
    input.blur();
  } else {
    view.setNicknameField(client.nickname);
  }
});

document.getElementById("join-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const input = document.getElementById("room-input");
  const room = input.value.trim().toLowerCase();
  if (client.join(room)) {
    input.value = "";
    switchTo(room);
  }
});

document.getElementById("room-list").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) {
    return;
  }
  if (button.dataset.action === "switch") {
    switchTo(button.dataset.room);
  } else if (button.dataset.action === "leave") {
    client.leave(button.dataset.room);
  }
});

document.getElementById("pending").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-action=discard]");
  if (button) {
    client.discard(button.dataset.msgId);
  }
});

document.getElementById("older").addEventListener("click", async () => {
  const room = active;
  view.olderLoading();
  // Older messages arrive as message events and are inserted above what the reader sees.
  const restore = view.keepScroll();
  await client.loadOlder(room);
  if (room === active) {
    restore();
  }
  view.setOlder(client.roomLog(active));
});

document.getElementById("retry-now").addEventListener("click", () => client.reconnectNow());
window.addEventListener("online", () => client.reconnectNow());
document.addEventListener("visibilitychange", () => {
  if (document.visibilityState === "visible") {
    client.reconnectNow();
  }
});

// A link to a room (…/#room) joins it and shows it.
function linkedRoom() {
  let room = "";
  try {
    room = decodeURIComponent(location.hash.slice(1)).toLowerCase();
  } catch {
    return null; // a malformed link
  }
  return ROOM_PATTERN.test(room) ? room : null;
}
function openRoom(room) {
  if (room && client.join(room)) {
    switchTo(room);
  }
}
window.addEventListener("hashchange", () => openRoom(linkedRoom()));
const linked = linkedRoom(); // before start() shows the last room and rewrites the hash

// On a phone the member list starts folded, below the conversation.
if (window.matchMedia("(max-width: 48rem)").matches) {
  document.getElementById("online").open = false;
}
view.setNicknameField(client.nickname);
client.start();
openRoom(linked);
