// Sign up (account, plan, test card) and sign in.

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, errorText, get, post } from "../../common/api";
import { price, quality } from "../../common/format";
import { Link, navigate, useLocation } from "../../common/router";
import { clearBanner, deviceId, deviceName, randomId, refreshMe, report } from "../session";
import type { Page as PageOf, Plan, PlanCode, Session, Subscription } from "../types";
import { Page } from "../components/ui";

const COUNTRIES: [string, string][] = [
  ["US", "United States"],
  ["GB", "United Kingdom"],
  ["CA", "Canada"],
  ["AU", "Australia"],
  ["IE", "Ireland"],
  ["FR", "France"],
  ["DE", "Germany"],
  ["ES", "Spain"],
  ["IT", "Italy"],
  ["NL", "Netherlands"],
  ["BE", "Belgium"],
  ["CH", "Switzerland"],
  ["SE", "Sweden"],
  ["NO", "Norway"],
  ["DK", "Denmark"],
  ["FI", "Finland"],
  ["PL", "Poland"],
  ["PT", "Portugal"],
  ["BR", "Brazil"],
  ["MX", "Mexico"],
  ["AR", "Argentina"],
  ["IN", "India"],
  ["JP", "Japan"],
  ["KR", "South Korea"],
  ["NZ", "New Zealand"],
  ["ZA", "South Africa"],
];

function guessCountry(): string {
  const tag = navigator.language || "en-US";
  const region = tag.split("-")[1];
  return region && /^[A-Za-z]{2}$/.test(region) ? region.toUpperCase() : "US";
}

const TEST_CARD = "4242 4242 4242 4242";

function digits(text: string): string {
  return text.replace(/[^0-9]/g, "");
}

/** "12/30" or "12/2030" -> [12, 2030]; null if it is not a date. */
function expiry(text: string): [number, number] | null {
  const m = /^\s*(\d{1,2})\s*\/\s*(\d{2}|\d{4})\s*$/.exec(text);
  if (!m) return null;
  const month = Number(m[1]);
  let year = Number(m[2]);
  if (year < 100) year += 2000;
  if (month < 1 || month > 12) return null;
  return [month, year];
}

export function usePlans(): [Plan[] | null, string | null] {
  const [plans, setPlans] = useState<Plan[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const ctl = new AbortController();
    get<PageOf<Plan>>("/api/billing/plans", ctl.signal)
      .then((page) => setPlans(page.items))
      .catch((err: unknown) => {
        if (err instanceof DOMException) return;
        setError(errorText(err));
        report(err);
      });
    return () => ctl.abort();
  }, []);
  return [plans, error];
}

/** The plan cards (radio buttons `plan-<code>`). */
export function PlanChoice(props: {
  plans: Plan[] | null;
  value: PlanCode;
  onChange: (code: PlanCode) => void;
  disabled?: boolean;
}): JSX.Element {
  if (props.plans === null) return <p class="muted">Loading the plans…</p>;
  return (
    <fieldset class="plans" disabled={props.disabled}>
      <legend>Choose your plan</legend>
      <div class="plan-grid">
        {props.plans.map((plan) => (
          <label class={`plan ${props.value === plan.code ? "chosen" : ""}`} key={plan.code}>
            <input
              type="radio"
              name="plan"
              value={plan.code}
              data-testid={`plan-${plan.code}`}
              checked={props.value === plan.code}
              onChange={() => props.onChange(plan.code)}
            />
            <span class="plan-name">{plan.name}</span>
            <span class="plan-price">
              {price(plan.price_cents, plan.currency)}
              <small>/month</small>
            </span>
            <span class="plan-line">{quality(plan.max_height)}</span>
            <span class="plan-line">
              {plan.max_streams} {plan.max_streams === 1 ? "screen" : "screens"} at a time
            </span>
          </label>
        ))}
      </div>
    </fieldset>
  );
}

/** Card number, expiry and CVC (test mode: the test cards are shown). */
export function CardFields(props: {
  card: string;
  exp: string;
  cvc: string;
  onCard: (v: string) => void;
  onExp: (v: string) => void;
  onCvc: (v: string) => void;
}): JSX.Element {
  return (
    <fieldset class="card-fields">
      <legend>Payment</legend>
      <label class="field">
        <span>Card number</span>
        <input
          name="card"
          data-testid="card"
          inputMode="numeric"
          autoComplete="cc-number"
          placeholder={TEST_CARD}
          value={props.card}
          onInput={(e) => props.onCard(e.currentTarget.value)}
          required
        />
      </label>
      <div class="field-row">
        <label class="field">
          <span>Expiry (MM/YY)</span>
          <input name="exp" autoComplete="cc-exp" value={props.exp} onInput={(e) => props.onExp(e.currentTarget.value)} required />
        </label>
        <label class="field">
          <span>CVC</span>
          <input name="cvc" inputMode="numeric" autoComplete="cc-csc" value={props.cvc} onInput={(e) => props.onCvc(e.currentTarget.value)} required />
        </label>
      </div>
      <p class="hint">
        Test mode: use {TEST_CARD} (accepted) or 4000 0000 0000 0002 (declined), any future date.
      </p>
    </fieldset>
  );
}

export function defaultExpiry(): string {
  const year = (new Date().getFullYear() + 3) % 100;
  return `12/${String(year).padStart(2, "0")}`;
}

/** Subscribe the signed-in member: a fresh Idempotency-Key per attempt. */
export async function subscribe(plan: PlanCode, card: string, exp: string, cvc: string): Promise<Subscription> {
  const when = expiry(exp);
  if (!when) throw new ApiError(0, "invalid_expiry", "Expiry: write it as MM/YY, for example 12/30.");
  return api<Subscription>("POST", "/api/billing/subscription", {
    body: { plan, card_number: digits(card), exp_month: when[0], exp_year: when[1], cvc: cvc.trim() },
    headers: { "Idempotency-Key": `signup-${randomId()}` },
  });
}

export function SignUp(): JSX.Element {
  const [plans] = usePlans();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [country, setCountry] = useState(guessCountry);
  const [plan, setPlan] = useState<PlanCode>("standard");
  const [card, setCard] = useState("");
  const [exp, setExp] = useState(defaultExpiry);
  const [cvc, setCvc] = useState("123");
  const [busy, setBusy] = useState(false);
  const [created, setCreated] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (busy) return;
    clearBanner();
    setBusy(true);
    try {
      if (!created) {
        await post<Session>("/api/identity/signup", {
          email: email.trim(),
          password,
          country: country.trim().toUpperCase(),
          device_id: deviceId(),
          device_name: deviceName(),
        });
        setCreated(true);
        await refreshMe();
      }
      await subscribe(plan, card, exp, cvc);
      await refreshMe();
      navigate("/profiles");
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page class="auth-page">
      <form class="auth-box wide" data-testid="signup-form" onSubmit={(e) => void submit(e)} aria-labelledby="signup-title">
        <h1 id="signup-title">{created ? "Finish joining matinee" : "Join matinee"}</h1>
        <p class="muted">Unlimited films and series. Cancel any time.</p>
        <fieldset class="account-fields" disabled={created}>
          <legend class="sr-only">Your account</legend>
          <label class="field">
            <span>Email</span>
            <input name="email" type="email" autoComplete="email" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />
          </label>
          <label class="field">
            <span>Password (at least 8 characters)</span>
            <input
              name="password"
              type="password"
              autoComplete="new-password"
              minLength={8}
              value={password}
              onInput={(e) => setPassword(e.currentTarget.value)}
              required
            />
          </label>
          <label class="field">
            <span>Country</span>
            <input
              name="country"
              list="countries"
              autoComplete="country"
              maxLength={2}
              pattern="[A-Za-z]{2}"
              title="Two letters, such as US or GB"
              value={country}
              onInput={(e) => setCountry(e.currentTarget.value)}
              required
            />
            <datalist id="countries">
              {COUNTRIES.map(([code, name]) => (
                <option value={code} key={code}>
                  {name}
                </option>
              ))}
            </datalist>
          </label>
        </fieldset>
        {created ? <p class="notice">Your account is ready. Check the payment details and try again.</p> : null}
        <PlanChoice plans={plans} value={plan} onChange={setPlan} />
        <CardFields card={card} exp={exp} cvc={cvc} onCard={setCard} onExp={setExp} onCvc={setCvc} />
        <button type="submit" class="button button-red block" data-testid="signup-submit" disabled={busy}>
          {busy ? "Working…" : created ? "Start membership" : "Sign up and start watching"}
        </button>
        <p class="muted center">
          Already a member? <Link href="/signin">Sign in</Link>
        </p>
      </form>
    </Page>
  );
}

export function SignIn(): JSX.Element {
  const location = useLocation();
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (busy) return;
    clearBanner();
    setBusy(true);
    try {
      await post<Session>("/api/identity/signin", {
        email: email.trim(),
        password,
        device_id: deviceId(),
        device_name: deviceName(),
      });
      await refreshMe();
      const next = location.query.get("next");
      // A new session has no profile yet: choose one, then go where the person was going.
      navigate(next && next.startsWith("/") && !next.startsWith("//") ? `/profiles?next=${encodeURIComponent(next)}` : "/profiles");
    } catch (err) {
      report(err, { signingIn: true });
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page class="auth-page">
      <form class="auth-box" data-testid="signin-form" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in</h1>
        <label class="field">
          <span>Email</span>
          <input name="email" type="email" autoComplete="username" value={email} onInput={(e) => setEmail(e.currentTarget.value)} required />
        </label>
        <label class="field">
          <span>Password</span>
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
            required
          />
        </label>
        <button type="submit" class="button button-red block" data-testid="signin-submit" disabled={busy}>
          {busy ? "Signing in…" : "Sign in"}
        </button>
        <p class="muted center">
          New to matinee? <Link href="/signup">Sign up now</Link>
        </p>
      </form>
    </Page>
  );
}
