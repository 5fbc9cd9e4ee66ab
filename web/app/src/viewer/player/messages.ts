// Plain words for every reason a play can be refused or fail.

import shaka from "shaka-player/dist/shaka-player.compiled-es2021.js";
import { ApiError } from "../../common/api";

export interface PlayerProblem {
  /** The reason code (playback's `error`, or a player code). */
  code: string;
  /** What the person reads. */
  message: string;
  /** What they can do about it. */
  action?: { label: string; href: string };
}

const REFUSALS: Record<string, (server: string) => Omit<PlayerProblem, "code">> = {
  stream_limit_reached: (server) => ({
    message: server || "Too many screens are playing on your account right now. Stop one of them, or change plans, to watch here.",
    action: { label: "See your plan", href: "/account" },
  }),
  subscription_inactive: (server) => ({
    message: server || "Your account has no active plan. Choose a plan on your account page to start watching.",
    action: { label: "Choose a plan", href: "/account" },
  }),
  rendition_unavailable: (server) => ({
    message: server || "This title has no version your plan can play. A plan with higher quality can play it.",
    action: { label: "Change plan", href: "/account" },
  }),
  maturity_restricted: (server) => ({
    message: server ? `${server} Switch to a profile that may watch it.` : "This title is rated above what this profile may watch.",
    action: { label: "Switch profile", href: "/profiles" },
  }),
  region_unavailable: (server) => ({
    message: server || "This title is not available in your country.",
    action: { label: "Browse other titles", href: "/" },
  }),
  title_unavailable: (server) => ({
    message: server || "This title is not available to watch right now.",
    action: { label: "Browse other titles", href: "/" },
  }),
  title_not_found: () => ({
    message: "This title does not exist, or is no longer on matinee.",
    action: { label: "Back to home", href: "/" },
  }),
  no_profile: (server) => ({
    message: server || "Choose who is watching first.",
    action: { label: "Choose a profile", href: "/profiles" },
  }),
  session_expired: () => ({
    message: "Your session has ended. Sign in again to keep watching.",
    action: { label: "Sign in", href: "/signin" },
  }),
  unauthorized: () => ({
    message: "Sign in to watch.",
    action: { label: "Sign in", href: "/signin" },
  }),
  dependency_unavailable: (server) => ({
    message: server || "matinee could not check this play just now. Try again in a moment.",
  }),
  lease_expired: () => ({
    message: "This stream was stopped because it had not been heard from for a while. Press play to start again.",
  }),
};

/** The problem a refused or failed playback start (an API error) is. */
export function refusal(err: unknown): PlayerProblem {
  if (err instanceof ApiError) {
    const known = REFUSALS[err.code];
    if (known) return { code: err.code, ...known(err.message) };
    return { code: err.code, message: err.message };
  }
  return { code: "error", message: err instanceof Error ? err.message : String(err) };
}

const Code = shaka.util.Error.Code;
const Category = shaka.util.Error.Category;

/** The problem a Shaka Player error is. */
export function playerProblem(error: shaka.util.Error): PlayerProblem {
  const code = `shaka_${error.code as number}`;
  if (error.code === Code.BAD_HTTP_STATUS && (error.data?.[1] === 401 || error.data?.[1] === 403)) {
    return { code, message: "The video's address has expired. Reload the page to keep watching." };
  }
  if (error.category === Category.NETWORK) {
    return {
      code,
      message: "The video could not be loaded from any of matinee's servers. Check your connection, then try again.",
    };
  }
  if (error.category === Category.MANIFEST) {
    return { code, message: "This video's description could not be read, so it cannot play." };
  }
  if (error.category === Category.MEDIA) {
    return { code, message: "Your browser could not play this video's format." };
  }
  if (error.category === Category.DRM) {
    return { code, message: "This video is protected in a way your browser does not support." };
  }
  return { code, message: `The video stopped because of a player error (${error.code as number}).` };
}
