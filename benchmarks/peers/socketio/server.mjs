// The peer that benchmarks/chat_server.py measures beside the chat server: what a team
// would write instead with Socket.IO and its Redis adapter (rooms fanned out across
// processes through Redis pub/sub). Same load, same message shape; it keeps nothing
// (no DynamoDB, no replay buffer), it only numbers messages per room in Redis.
//
//   PORT=3000 HOST=127.0.0.1 REDIS_URL=redis://:password@127.0.0.1:6379 node server.mjs
//
// Events: "join" (room, ack) -> ack({room, seq}); "send" ({room, text, msgId}, ack) ->
// message {room, seq, msgId, userId, nickname, text, ts} to the room, then
// ack({room, msgId, seq, ts}). GET /health -> {"status":"ok","connections":N}.

import { createServer } from "node:http";

import { createAdapter } from "@socket.io/redis-adapter";
import { createClient } from "redis";
import { Server } from "socket.io";

const ROOM = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const MAX_TEXT = 2000;

const port = Number(process.env.PORT ?? 3000);
const host = process.env.HOST ?? "127.0.0.1";
const redisUrl = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const pub = createClient({ url: redisUrl });
const sub = pub.duplicate();
for (const client of [pub, sub]) {
  client.on("error", (error) => console.error(JSON.stringify({ event: "redis_error", error: String(error) })));
}
await Promise.all([pub.connect(), sub.connect()]);

const http = createServer((request, response) => {
  if (request.url === "/health") {
    response.writeHead(200, { "content-type": "application/json" });
    response.end(JSON.stringify({ status: "ok", connections: io.engine.clientsCount }));
    return;
  }
  response.writeHead(404);
  response.end();
});

const io = new Server(http, {
  transports: ["websocket"],
  perMessageDeflate: false,
  serveClient: false,
  pingInterval: 20000,
  pingTimeout: 20000,
  maxHttpBufferSize: 16 * 1024,
  adapter: createAdapter(pub, sub),
});

// A user id per connection from a Redis counter, as several processes would need.
io.use(async (socket, next) => {
  try {
    socket.data.userId = String(await pub.incr("peer:userId"));
    const nickname = socket.handshake.auth?.nickname;
    socket.data.nickname =
      typeof nickname === "string" && nickname.trim() ? nickname.trim().slice(0, 24) : `user${socket.data.userId}`;
    next();
  } catch (error) {
    next(error);
  }
});

io.on("connection", (socket) => {
  socket.on("join", async (room, ack) => {
    if (typeof room !== "string" || !ROOM.test(room)) {
      ack?.({ error: "invalid_room" });
      return;
    }
    await socket.join(room);
    const seq = Number((await pub.get(`peer:seq:${room}`)) ?? 0);
    ack?.({ room, seq });
  });

  socket.on("send", async (frame, ack) => {
    const { room, text, msgId } = frame ?? {};
    if (typeof room !== "string" || !socket.rooms.has(room)) {
      ack?.({ error: "not_joined" });
      return;
    }
    if (typeof text !== "string" || !text.trim() || text.length > MAX_TEXT || typeof msgId !== "string") {
      ack?.({ error: "invalid_field" });
      return;
    }
    const seq = await pub.incr(`peer:seq:${room}`);
    const message = {
      room,
      seq,
      msgId,
      userId: socket.data.userId,
      nickname: socket.data.nickname,
      text: text.trim(),
      ts: Date.now(),
    };
    io.to(room).emit("message", message);
    ack?.({ room, msgId, seq, ts: message.ts });
  });
});

http.listen(port, host, () => {
  console.log(JSON.stringify({ event: "listening", host, port }));
});

function shutdown() {
  io.close();
  Promise.allSettled([pub.quit(), sub.quit()]).finally(() => process.exit(0));
  setTimeout(() => process.exit(0), 3000).unref();
}
process.on("SIGTERM", shutdown);
process.on("SIGINT", shutdown);
