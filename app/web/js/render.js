// Everything the page shows, built with DOM APIs. Text from the network (messages,
// nicknames, room names, errors) only ever reaches the page through textContent or
// attribute setters: it is never parsed as HTML.

const STATE_TEXT = {
  connecting: "Connecting…",
  online: "Connected",
  waiting: "Reconnecting…",
  stopped: "Disconnected",
};

const KNOWN_COLOURS = new Set(["blue", "green"]);

export class View {
  constructor(doc) {
    this.doc = doc;
    const byId = (id) => doc.getElementById(id);
    this.el = {
      state: byId("conn-state"),
      retry: byId("retry-now"),
      badge: byId("colour-badge"),
      nick: byId("nick"),
      roomList: byId("room-list"),
      roomTitle: byId("room-title"),
      messages: byId("messages"),
      scroller: byId("scroller"),
      pending: byId("pending"),
      older: byId("older"),
      empty: byId("empty"),
      typing: byId("typing"),
      onlineList: byId("online-list"),
      onlineCount: byId("online-count"),
      text: byId("text"),
      notice: byId("notice"),
    };
    this.countdown = null;
    this.noticeTimer = null;
    this.userId = null;
  }

  // ---- connection and identity ----------------------------------------------------------

  setConnection(state, { retryAt } = {}) {
    const { state: node, retry } = this.el;
    node.dataset.state = state;
    clearInterval(this.countdown);
    this.countdown = null;
    retry.hidden = state !== "waiting";
    if (state === "waiting" && retryAt) {
      const tick = () => {
        const seconds = Math.max(0, Math.ceil((retryAt - Date.now()) / 1000));
        node.textContent = seconds > 0 ? `Reconnecting in ${seconds} s…` : STATE_TEXT.waiting;
      };
      tick();
      this.countdown = setInterval(tick, 1000);
    } else {
      node.textContent = STATE_TEXT[state] || state;
    }
  }

  setIdentity({ userId, nickname, colour, version, task }) {
    this.userId = userId;
    const { badge, nick } = this.el;
    const known = KNOWN_COLOURS.has(colour) ? colour : "unknown";
    badge.dataset.colour = colour || "";
    badge.className = `badge colour-${known}`;
    badge.textContent = version ? `${colour} · ${version}` : String(colour || "?");
    badge.title = `Served by the ${colour} deployment${version ? `, version ${version}` : ""}${
      task ? `, task ${task}` : ""
    }`;
    if (this.doc.activeElement !== nick) {
      nick.value = nickname || "";
    }
  }

  setNicknameField(nickname) {
    if (this.doc.activeElement !== this.el.nick) {
      this.el.nick.value = nickname || "";
    }
  }

  setTextLimit(maxLength) {
    if (Number.isSafeInteger(maxLength) && maxLength > 0) {
      this.el.text.maxLength = maxLength;
    }
  }

  // ---- rooms -----------------------------------------------------------------------------

  setRooms(rooms, active, unread) {
    const list = this.el.roomList;
    const items = rooms.map((room) => {
      const li = this.make("li", "room");
      const open = this.make("button", "room-open");
      open.type = "button";
      open.dataset.room = room;
      open.dataset.action = "switch";
      open.append(this.make("span", "room-name", `#${room}`));
      const count = unread.get(room) || 0;
      if (count > 0) {
        const badge = this.make("span", "unread", count > 99 ? "99+" : String(count));
        badge.title = `${count} unread`;
        open.append(badge);
        open.setAttribute("aria-label", `#${room}, ${count} unread`);
      }
      if (room === active) {
        open.setAttribute("aria-current", "true");
      }
      const leave = this.make("button", "room-leave", "×");
      leave.type = "button";
      leave.dataset.room = room;
      leave.dataset.action = "leave";
      leave.title = `Leave #${room}`;
      leave.setAttribute("aria-label", `Leave #${room}`);
      li.append(open, leave);
      return li;
    });
    list.replaceChildren(...items);
    // Where the rooms scroll sideways (phones), keep the current one in sight.
    list.querySelector('[aria-current="true"]')?.scrollIntoView({ block: "nearest", inline: "nearest" });
  }

  // Show a room: its messages, unsent messages, members.
  showRoom(room, log, pending, members) {
    this.el.roomTitle.textContent = room ? `#${room}` : "No room";
    this.el.messages.dataset.room = room || "";
    this.el.messages.replaceChildren(
      ...(log ? log.messages.map((message) => this.messageItem(message)) : []),
    );
    this.setPending(pending || []);
    this.setPresence(members || []);
    this.setTyping([]);
    this.setOlder(log);
    this.updateEmpty();
    this.scrollToEnd();
  }

  // ---- messages --------------------------------------------------------------------------

  // Insert at `index` in seq order (the list mirrors the room's log).
  insertMessage(message, index) {
    const list = this.el.messages;
    const stick = this.nearEnd();
    const item = this.messageItem(message);
    list.insertBefore(item, list.children[index] || null);
    this.updateEmpty();
    if (stick || (message.userId === this.userId && index === list.children.length - 1)) {
      this.scrollToEnd();
    }
  }

  messageItem(message) {
    const li = this.make("li", "message");
    if (message.userId && message.userId === this.userId) {
      li.classList.add("mine");
    }
    li.dataset.seq = String(message.seq);
    li.dataset.msgId = message.msgId;
    li.dataset.userId = message.userId;
    const meta = this.make("p", "meta");
    meta.append(this.make("span", "nick", message.nickname || `user ${message.userId}`));
    if (message.ts) {
      const when = new Date(message.ts);
      const time = this.make("time", "ts", formatTime(when));
      time.dateTime = when.toISOString();
      time.title = when.toLocaleString();
      meta.append(" ", time);
    }
    if (message.colour) {
      const colour = KNOWN_COLOURS.has(message.colour) ? message.colour : "unknown";
      const dot = this.make("span", `dot colour-${colour}`);
      dot.title = `Stored by ${message.colour}`;
      dot.setAttribute("role", "img");
      dot.setAttribute("aria-label", `stored by ${message.colour}`);
      meta.append(" ", dot);
    }
    li.append(meta, this.make("p", "text", message.text));
    return li;
  }

  setPending(entries) {
    const items = entries.map((entry) => {
      const li = this.make("li", `pending ${entry.state}`);
      li.dataset.msgId = entry.msgId;
      li.append(this.make("p", "text", entry.text));
      const status = this.make("p", "status");
      if (entry.state === "failed") {
        status.append(`Not sent: ${entry.error || "refused"} `);
        const discard = this.make("button", "discard", "Discard");
        discard.type = "button";
        discard.dataset.action = "discard";
        discard.dataset.msgId = entry.msgId;
        status.append(discard);
      } else {
        status.textContent = entry.state === "inflight" ? "Sending…" : "Waiting to send…";
      }
      li.append(status);
      return li;
    });
    const stick = this.nearEnd();
    this.el.pending.replaceChildren(...items);
    this.el.pending.hidden = items.length === 0;
    if (stick) {
      this.scrollToEnd();
    }
  }

  setOlder(log) {
    const older = this.el.older;
    older.hidden = !log || log.more !== true;
    older.disabled = false;
  }

  olderLoading() {
    this.el.older.disabled = true;
  }

  // Keep the reader's place while older messages are added above what they see: returns
  // the function that puts the view back.
  keepScroll() {
    const scroller = this.el.scroller;
    const fromEnd = scroller.scrollHeight - scroller.scrollTop;
    return () => {
      scroller.scrollTop = scroller.scrollHeight - fromEnd;
    };
  }

  updateEmpty() {
    this.el.empty.hidden = this.el.messages.children.length > 0;
  }

  // ---- presence and typing ---------------------------------------------------------------

  setPresence(members) {
    const seen = new Set();
    const items = [];
    for (const member of members) {
      const userId = String(member.userId ?? "");
      if (seen.has(userId)) {
        continue;
      }
      seen.add(userId);
      const li = this.make("li", "member", member.nickname || `user ${userId}`);
      li.dataset.userId = userId;
      if (userId === this.userId) {
        li.classList.add("me");
        li.append(this.make("span", "you", " (you)"));
      }
      items.push(li);
    }
    this.el.onlineList.replaceChildren(...items);
    this.el.onlineCount.textContent = String(items.length);
  }

  setTyping(nicknames) {
    const node = this.el.typing;
    if (!nicknames.length) {
      node.textContent = "";
    } else if (nicknames.length === 1) {
      node.textContent = `${nicknames[0]} is typing…`;
    } else if (nicknames.length === 2) {
      node.textContent = `${nicknames[0]} and ${nicknames[1]} are typing…`;
    } else {
      node.textContent = "Several people are typing…";
    }
  }

  // ---- notices ---------------------------------------------------------------------------

  notice(text) {
    const node = this.el.notice;
    node.textContent = text;
    node.hidden = false;
    clearTimeout(this.noticeTimer);
    this.noticeTimer = setTimeout(() => {
      node.hidden = true;
      node.textContent = "";
    }, 6000);
  }

  // ---- helpers -----------------------------------------------------------------------------

  nearEnd() {
    const scroller = this.el.scroller;
    return scroller.scrollHeight - scroller.scrollTop - scroller.clientHeight < 80;
  }

  scrollToEnd() {
    const scroller = this.el.scroller;
    scroller.scrollTop = scroller.scrollHeight;
  }

  make(tag, className, text) {
    const node = this.doc.createElement(tag);
    if (className) {
      node.className = className;
    }
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }
}

function formatTime(date) {
  const today = new Date();
  const sameDay = date.toDateString() === today.toDateString();
  return sameDay
    ? date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" })
    : date.toLocaleString([], { month: "short", day: "numeric", hour: "2-digit", minute: "2-digit" });
}
