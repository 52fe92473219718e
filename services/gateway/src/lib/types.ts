import type { Server, Socket } from "socket.io";

import type { ClientToServerEvents, ServerToClientEvents } from "@parley/protocol";
import type { InterServerEvents, SocketData } from "@parley/shared/events";

/** The gateway's Socket.IO server, typed by the shared protocol. */
export type GatewayServer = Server<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;

/** A connected socket, typed by the shared protocol. */
export type GatewaySocket = Socket<ClientToServerEvents, ServerToClientEvents, InterServerEvents, SocketData>;
