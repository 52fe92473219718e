/** A small typed client of parley's REST API, for tests and load-test setup. */
import type { AuthSession, Conversation, Message, PublicUser } from "@parley/protocol";

import { uniqueSuffix } from "./env.js";

export interface ApiResponse<T> {
  status: number;
  body: T;
}

export interface RegisteredUser {
  user: PublicUser;
  /** The access token. */
  token: string;
  refreshToken: string;
  sessionId: string;
  id: string;
}

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async request<T = any>(method: string, path: string, { token, body }: { token?: string; body?: unknown } = {}): Promise<ApiResponse<T>> {
    const headers: Record<string, string> = {};
    if (token) headers.authorization = `Bearer ${token}`;
    if (body !== undefined) headers["content-type"] = "application/json";
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
  }

  /** Registers a fresh user named `<label>_<random>`. */
  async register(label = "user"): Promise<RegisteredUser> {
    const username = `${label}_${uniqueSuffix()}`;
    const res = await this.request<AuthSession>("POST", "/api/auth/register", {
      body: { username, password: "correct horse battery" },
    });
    if (res.status !== 201) throw new Error(`register failed: ${res.status} ${JSON.stringify(res.body)}`);
    const { user, accessToken, refreshToken, sessionId } = res.body;
    return { user, token: accessToken, refreshToken, sessionId, id: user.id };
  }

  async direct(token: string, userId: string): Promise<Conversation> {
    const res = await this.request<{ conversation: Conversation }>("POST", "/api/conversations", { token, body: { type: "direct", userId } });
    if (res.status !== 201 && res.status !== 200) throw new Error(`direct failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.conversation;
  }

  async group(token: string, name: string, memberIds: string[]): Promise<Conversation> {
    const res = await this.request<{ conversation: Conversation }>("POST", "/api/conversations", { token, body: { type: "group", name, memberIds } });
    if (res.status !== 201) throw new Error(`group failed: ${res.status} ${JSON.stringify(res.body)}`);
    return res.body.conversation;
  }

  async history(token: string, conversationId: string, query = ""): Promise<ApiResponse<{ messages: Message[]; nextBefore: number | null }>> {
    return this.request("GET", `/api/conversations/${conversationId}/messages${query}`, { token });
  }
}
