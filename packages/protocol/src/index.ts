/**
 * The parley protocol: every Socket.IO event and REST route with its zod schema, the error codes and the
 * protocol version, and the OpenAPI document of the REST routes. Depends on zod alone and runs in browsers and Node; the servers, the SDK
 * (`@parley/client`) and the load tests all import it, so they cannot drift apart.
 */
export * from "./endpoints.js";
export * from "./errors.js";
export * from "./events.js";
export {
  openApiDocument,
  openApiPath,
  type JsonSchema,
  type OpenApiDocument,
  type OpenApiJsonContent,
  type OpenApiOperation,
  type OpenApiOptions,
  type OpenApiParameter,
  type OpenApiResponse,
} from "./openapi.js";
export * from "./responses.js";
export * from "./routes.js";
export * from "./schemas.js";
export * from "./version.js";
