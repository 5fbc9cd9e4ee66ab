// The account: email, country, the plan and its card; change plan, subscribe, sign out.

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, get, post } from "../../common/api";
import { day, price, quality } from "../../common/format";
import { Link } from "../../common/router";
import { useStore } from "../../common/store";
import { clearBanner, me, report } from "../session";
import type { PlanCode, Subscription } from "../types";
import { Page, Spinner, signOut } from "../components/ui";
import { CardFields, PlanChoice, defaultExpiry, subscribe, usePlans } from "./auth";

const STATUS: Record<Subscription["status"], string> = {
  trialing: "Free trial",
  active: "Active",
  past_due: "Payment overdue",
  canceled: "Canceled",
};

function Subscribe({ onDone }: { onDone: (sub: Subscription) => void }): JSX.Element {
  const [plans] = usePlans();
  const [plan, setPlan] = useState<PlanCode>("standard");
  const [card, setCard] = useState("");
  const [exp, setExp] = useState(defaultExpiry);
  const [cvc, setCvc] = useState("123");
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event): Promise<void> => {
    event.preventDefault();
    setBusy(true);
    clearBanner();
    try {
      onDone(await subscribe(plan, card, exp, cvc));
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="account-subscribe" data-testid="subscribe-form" onSubmit={(e) => void submit(e)}>
      <p>You have no plan yet. Choose one to start watching.</p>
      <PlanChoice plans={plans} value={plan} onChange={setPlan} />
      <CardFields card={card} exp={exp} cvc={cvc} onCard={setCard} onExp={setExp} onCvc={setCvc} />
      <button type="submit" class="button button-red" data-testid="subscribe-submit" disabled={busy}>
        {busy ? "Working…" : "Start membership"}
      </button>
    </form>
  );
}

export function Account(): JSX.Element {
  const who = useStore(me);
  const [sub, setSub] = useState<Subscription | null | undefined>(undefined);
  const [changing, setChanging] = useState(false);
  const [plans] = usePlans();
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    const ctl = new AbortController();
    get<Subscription>("/api/billing/subscription", ctl.signal)
      .then(setSub)
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 404) setSub(null);
        else if (!(err instanceof DOMException)) {
          report(err);
          setSub(null);
        }
      });
    return () => ctl.abort();
  }, []);

  const changePlan = async (code: PlanCode): Promise<void> => {
    setBusy(true);
    clearBanner();
    try {
      setSub(await post<Subscription>("/api/billing/subscription/plan", { plan: code }));
      setChanging(false);
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <Page class="account-page" testid="account">
      <h1>Account</h1>
      <section class="account-section" aria-labelledby="membership">
        <h2 id="membership">Membership</h2>
        <dl class="facts">
          <dt>Email</dt>
          <dd data-testid="account-email">{who?.email ?? ""}</dd>
          <dt>Country</dt>
          <dd>{who?.country ?? ""}</dd>
          {who?.created_at ? (
            <>
              <dt>Member since</dt>
              <dd>{day(who.created_at)}</dd>
            </>
          ) : null}
        </dl>
      </section>
      <section class="account-section" aria-labelledby="plan-title">
        <h2 id="plan-title">Plan</h2>
        {sub === undefined ? (
          <Spinner label="Loading your plan" />
        ) : sub === null ? (
          <Subscribe onDone={setSub} />
        ) : (
          <>
            <dl class="facts" data-testid="account-plan">
              <dt>Plan</dt>
              <dd>
                <strong>{sub.plan.name}</strong> · {price(sub.plan.price_cents, sub.plan.currency)}/month
              </dd>
              <dt>Quality</dt>
              <dd>{quality(sub.plan.max_height)}</dd>
              <dt>Screens</dt>
              <dd>{sub.plan.max_streams} at a time</dd>
              <dt>Status</dt>
              <dd>
                {STATUS[sub.status]}
                {sub.cancel_at_period_end ? ` (ends ${day(sub.current_period_end)})` : ""}
              </dd>
              {sub.pending_plan ? (
                <>
                  <dt>Next plan</dt>
                  <dd>{sub.pending_plan} from {day(sub.current_period_end)}</dd>
                </>
              ) : null}
              <dt>Next payment</dt>
              <dd>{day(sub.current_period_end)}</dd>
              <dt>Card</dt>
              <dd>
                {sub.card.brand.toUpperCase()} •••• {sub.card.last4} (expires {sub.card.exp_month}/{sub.card.exp_year})
              </dd>
            </dl>
            {changing ? (
              <div class="change-plan">
                <PlanChoice plans={plans} value={sub.plan.code} onChange={(code) => void changePlan(code)} disabled={busy} />
                <button type="button" class="button button-ghost" onClick={() => setChanging(false)}>
                  Keep {sub.plan.name}
                </button>
              </div>
            ) : (
              <button type="button" class="button button-outline" onClick={() => setChanging(true)}>
                Change plan
              </button>
            )}
          </>
        )}
      </section>
      <section class="account-section" aria-labelledby="profiles-title">
        <h2 id="profiles-title">Profiles</h2>
        <p>
          {who?.profile ? (
            <>
              Watching as <strong>{who.profile.name}</strong>.{" "}
            </>
          ) : null}
          <Link href="/profiles">Switch or manage profiles</Link>
        </p>
      </section>
      <section class="account-section">
        <button type="button" class="button button-outline" data-testid="signout" onClick={() => void signOut()}>
          Sign out
        </button>
      </section>
    </Page>
  );
}
