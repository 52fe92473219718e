/**
 * Calls in the web app: two people on two gateways (one of them on two devices), Chromium's fake
 * camera and microphone, a real cluster. A video call rings on every device of the callee, is accepted
 * on one (the other stops ringing), connects both ways with media playing at both ends (a third person calling meanwhile is told the
 * callee is busy) and is hung up;
 * then a call is declined, and one is missed. Every wait is on what the page shows; nothing sleeps.
 */
import { describe, expect, it } from "vitest";

import { useCluster } from "../helpers/cluster.js";
import { FAKE_MEDIA_ARGS, gatewayNodeOf, logIn, openDirectChat, register, twoOnTwoGateways, UI_TIMEOUT_MS, useBrowser, type Person } from "../helpers/web-app.js";

/**
 * Calls are missed after this instead of 30 s, so that a missed call takes little of the test; still
 * far more than an accept takes, even on a loaded machine.
 */
const RING_TIMEOUT_MS = 8000;

const fixture = useCluster("web-call", { envFor: { gateway: { CALL_RING_TIMEOUT_MS: String(RING_TIMEOUT_MS), CALL_SWEEP_INTERVAL_MS: "200" } } });

const { open } = useBrowser(fixture, { args: FAKE_MEDIA_ARGS });

/** What the page function below uses of the browser (this file is compiled without the DOM's types). */
interface PageGlobals {
  document: { querySelector(selector: string): { videoWidth: number; paused: boolean } | null };
}

/** Resolves once the call screen's remote video plays frames of a real size. */
async function remoteVideoPlays({ page }: Person): Promise<void> {
  await page.waitForFunction(() => {
    const video = (globalThis as unknown as PageGlobals).document.querySelector('[data-testid="remote-video"]');
    return video !== null && !video.paused && video.videoWidth > 0;
  });
}

/** The call screen, once its peer connection is `state`. */
function callScreen({ page }: Person, state?: string) {
  const screen = page.getByTestId("call-screen");
  return state === undefined ? screen : page.locator(`[data-testid="call-screen"][data-connection-state="${state}"]`);
}

describe("calls in the web app", () => {
  it("rings a video call on every device of the callee, connects it with media both ways, hangs up on both; then a call is declined, and one missed", async () => {
    const { ada, bob, adaName, bobName, suffix } = await twoOnTwoGateways(fixture, open);
    // Bob has a second device, which rings too.
    const bobLaptop = await open(1280);
    await logIn(bobLaptop, bobName);
    await gatewayNodeOf(bobLaptop);
    // Carol will try to call Bob while he is in a call.
    const carol = await open(390);
    await register(carol, `carol-${suffix}`);
    await openDirectChat(carol, bobName);

    // Ada calls from their direct chat; Bob, on another screen of the app, gets the incoming call.
    await openDirectChat(ada, bobName);
    await ada.page.getByRole("button", { name: "Video call" }).click();
    await callScreen(ada).getByText(`Calling ${bobName}…`).waitFor();
    const incoming = bob.page.getByRole("dialog", { name: `${adaName} is calling you` });
    await incoming.getByText("Video call").waitFor();
    const onLaptop = bobLaptop.page.getByRole("dialog", { name: `${adaName} is calling you` });
    await onLaptop.waitFor();
    expect(await ada.page.getByRole("button", { name: "Audio call" }).isDisabled()).toBe(true);
    await incoming.getByRole("button", { name: "Accept" }).click();
    await incoming.waitFor({ state: "detached" });
    // Answered on the phone: the laptop stops ringing.
    await onLaptop.waitFor({ state: "detached" });

    // Both peer connections connect, and each side plays the other's video.
    await Promise.all([callScreen(ada, "connected").waitFor(), callScreen(bob, "connected").waitFor()]);
    await Promise.all([remoteVideoPlays(ada), remoteVideoPlays(bob)]);
    await bob.page.getByRole("timer", { name: "Call duration" }).filter({ hasText: /^\d+:\d\d$/ }).waitFor();

    // Bob is busy for anyone else.
    await carol.page.getByRole("button", { name: "Audio call" }).click();
    await carol.page.getByTestId("call-notice").filter({ hasText: `${bobName} is in another call.` }).waitFor();
    expect(await carol.page.getByTestId("call-screen").count()).toBe(0);

    // Mute and Camera off are toggles.
    const mute = bob.page.getByRole("button", { name: "Mute" });
    await mute.click();
    expect(await mute.getAttribute("aria-pressed")).toBe("true");
    const camera = bob.page.getByRole("button", { name: "Camera off" });
    await camera.click();
    expect(await camera.getAttribute("aria-pressed")).toBe("true");

    // Ada hangs up: the call ends on both sides.
    await callScreen(ada).getByRole("button", { name: "Hang up" }).click();
    await Promise.all([callScreen(ada).waitFor({ state: "detached" }), callScreen(bob).waitFor({ state: "detached" })]);
    await bob.page.getByTestId("call-notice").filter({ hasText: `Call with ${adaName} ended` }).waitFor();
    await ada.page.getByTestId("call-notice").filter({ hasText: `Call with ${bobName} ended` }).waitFor();

    // A second call, declined: Ada is told, and both screens are clear.
    await ada.page.getByRole("button", { name: "Audio call" }).click();
    const second = bob.page.getByRole("dialog", { name: `${adaName} is calling you` });
    await second.getByText("Audio call").waitFor();
    const secondOnLaptop = bobLaptop.page.getByRole("dialog", { name: `${adaName} is calling you` });
    await secondOnLaptop.waitFor();
    await second.getByRole("button", { name: "Decline" }).click();
    await ada.page.getByTestId("call-notice").filter({ hasText: `${bobName} declined the call.` }).waitFor();
    await callScreen(ada).waitFor({ state: "detached" });
    await second.waitFor({ state: "detached" });
    await secondOnLaptop.waitFor({ state: "detached" });

    // A third call, unanswered: missed on every side.
    await ada.page.getByRole("button", { name: "Audio call" }).click();
    await bob.page.getByRole("dialog", { name: `${adaName} is calling you` }).waitFor();
    const missed = { timeout: RING_TIMEOUT_MS + UI_TIMEOUT_MS };
    await ada.page.getByTestId("call-notice").filter({ hasText: `${bobName} did not answer.` }).waitFor(missed);
    await bob.page.getByTestId("call-notice").filter({ hasText: `Missed call from ${adaName}.` }).waitFor(missed);
    await bobLaptop.page.getByTestId("call-notice").filter({ hasText: `Missed call from ${adaName}.` }).waitFor(missed);
    await bob.page.getByRole("dialog", { name: `${adaName} is calling you` }).waitFor({ state: "detached" });

    expect(await bobLaptop.page.getByTestId("call-screen").count()).toBe(0);
    expect([...ada.problems, ...bob.problems, ...bobLaptop.problems, ...carol.problems]).toEqual([]);
  }, 120_000);
});
