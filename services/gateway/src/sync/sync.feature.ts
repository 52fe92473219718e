/** Recovery after a reconnect or a gap: `sync`. */
import { ForbiddenError } from "@parley/shared/errors";

import type { FeatureContext, GatewayFeature } from "../lib/feature.js";
import { syncConversation } from "./recovery.js";

export function syncFeature({ cache, pipeline, onEvent }: FeatureContext): GatewayFeature {
  onEvent("sync", async (socket, payload) => {
    if (!(await cache.isMember(payload.conversationId, socket.data.userId))) {
      throw new ForbiddenError("You are not a member of this conversation");
    }
    return syncConversation(pipeline.reader, payload);
  });
  return { name: "sync" };
}
