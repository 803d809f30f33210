import { ApiError, createOpsApi, opsSocketUrl, UnauthorizedError } from "./api";
import { fakeFetch } from "./test-utils";

afterEach(() => vi.unstubAllGlobals());

describe("createOpsApi", () => {
  it("sends the operator key and reads JSON", async () => {
    const { calls } = fakeFetch({ "GET /api/ops/streams": () => ({ body: [] }) });
    await expect(createOpsApi("secret", vi.fn()).streams()).resolves.toEqual([]);
    expect(calls).toEqual([
      { url: "/api/ops/streams", method: "GET", key: "secret", body: undefined },
    ]);
  });

  it("reports a 401 and throws UnauthorizedError", async () => {
    fakeFetch({ "GET /api/ops/outcomes": () => ({ status: 401, body: { detail: "no" } }) });
    const refused = vi.fn();
    await expect(createOpsApi("old", refused).outcomes()).rejects.toBeInstanceOf(UnauthorizedError);
    expect(refused).toHaveBeenCalledWith("old");
  });

  it("turns other errors into ApiError with the server's detail", async () => {
    fakeFetch({
      "POST /api/ops/dlq/replay": () => ({ status: 404, body: { detail: "unknown stream: x" } }),
      "GET /api/ops/dlq": () => ({ status: 503, body: [] }),
    });
    const api = createOpsApi("k", vi.fn());
    await expect(api.replay({ stream: "x" })).rejects.toEqual(
      new ApiError(404, "unknown stream: x"),
    );
    await expect(api.deadLetters()).rejects.toMatchObject({ status: 503, message: "HTTP 503" });
  });

  it("posts the selection for replay and purge", async () => {
    const { calls } = fakeFetch({
      "POST /api/ops/dlq/replay": () => ({ body: { replayed: 1 } }),
      "POST /api/ops/dlq/purge": () => ({ body: { purged: 4 } }),
    });
    const api = createOpsApi("k", vi.fn());
    await expect(api.replay({ stream: "s", ids: ["1-0"] })).resolves.toEqual({ replayed: 1 });
    await expect(api.purge({ stream: "s" })).resolves.toEqual({ purged: 4 });
    expect(calls.map((c) => c.body)).toEqual([{ stream: "s", ids: ["1-0"] }, { stream: "s" }]);
  });
});

describe("opsSocketUrl", () => {
  it("uses ws or wss like the page and escapes the key", () => {
    const http = { protocol: "http:", host: "h:8080" } as Location;
    const https = { protocol: "https:", host: "h" } as Location;
    expect(opsSocketUrl("a b&c", http)).toBe("ws://h:8080/ws/ops?key=a%20b%26c");
    expect(opsSocketUrl("k", https)).toBe("wss://h/ws/ops?key=k");
  });
});
