// "Who's watching?": choose, add, edit and delete profiles (kids profiles included).

import type { JSX } from "preact";
import { useEffect, useState } from "preact/hooks";
import { del, get, patch, post } from "../../common/api";
import { navigate, useLocation } from "../../common/router";
import { clearBanner, refreshMe, report } from "../session";
import type { Page as PageOf, Profile, Session } from "../types";
import { Avatar, Page, Spinner } from "../components/ui";

const MATURITY: [number, string][] = [
  [0, "All ages"],
  [7, "7+ (older kids)"],
  [13, "13+ (teens)"],
  [16, "16+"],
  [18, "18+ (all titles)"],
];
const MAX_PROFILES = 5;

interface Draft {
  name: string;
  avatar: string;
  kids: boolean;
  maturity_level: number;
  language: string;
}

function draftOf(profile: Profile | null, avatars: string[]): Draft {
  if (profile) {
    return {
      name: profile.name,
      avatar: profile.avatar,
      kids: profile.kids,
      maturity_level: profile.maturity_level,
      language: profile.language,
    };
  }
  return { name: "", avatar: avatars[0] ?? "popcorn", kids: false, maturity_level: 18, language: "en" };
}

function ProfileForm(props: {
  editing: Profile | null;
  avatars: string[];
  onDone: (changed: boolean) => void;
}): JSX.Element {
  const [draft, setDraft] = useState<Draft>(() => draftOf(props.editing, props.avatars));
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const set = (part: Partial<Draft>): void => setDraft({ ...draft, ...part });

  const save = async (event: Event): Promise<void> => {
    event.preventDefault();
    if (busy) return;
    setBusy(true);
    clearBanner();
    const maturity = draft.kids ? Math.min(draft.maturity_level, 7) : draft.maturity_level;
    const body = {
      name: draft.name.trim(),
      avatar: draft.avatar,
      kids: draft.kids,
      maturity_level: maturity,
      language: draft.language,
    };
    try {
      if (props.editing) await patch<Profile>(`/api/identity/profiles/${props.editing.id}`, body);
      else await post<Profile>("/api/identity/profiles", body);
      props.onDone(true);
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };

  const remove = async (): Promise<void> => {
    if (!props.editing) return;
    setBusy(true);
    try {
      await del(`/api/identity/profiles/${props.editing.id}`);
      props.onDone(true);
    } catch (err) {
      report(err);
    } finally {
      setBusy(false);
    }
  };

  const levels = draft.kids ? MATURITY.filter(([level]) => level <= 7) : MATURITY;
  return (
    <form class="profile-form" data-testid="profile-form" onSubmit={(e) => void save(e)} aria-labelledby="profile-form-title">
      <h1 id="profile-form-title">{props.editing ? "Edit profile" : "Add profile"}</h1>
      <div class="profile-form-body">
        <Avatar avatar={draft.avatar} kids={draft.kids} size="l" />
        <div class="profile-form-fields">
          <label class="field">
            <span>Name</span>
            <input name="name" maxLength={50} value={draft.name} onInput={(e) => set({ name: e.currentTarget.value })} required autoFocus />
          </label>
          <label class="check">
            <input
              type="checkbox"
              name="kids"
              checked={draft.kids}
              onChange={(e) => {
                const kids = e.currentTarget.checked;
                set({ kids, maturity_level: kids ? 7 : 18 });
              }}
            />
            <span>Kids profile: only titles for children, and a simpler home page</span>
          </label>
          <label class="field">
            <span>Maturity rating</span>
            <select name="maturity_level" value={String(draft.maturity_level)} onChange={(e) => set({ maturity_level: Number(e.currentTarget.value) })}>
              {levels.map(([level, label]) => (
                <option value={String(level)} key={level}>
                  {label}
                </option>
              ))}
            </select>
          </label>
          <label class="field">
            <span>Language</span>
            <select name="language" value={draft.language} onChange={(e) => set({ language: e.currentTarget.value })}>
              <option value="en">English</option>
              <option value="fr">Français</option>
              <option value="de">Deutsch</option>
              <option value="es">Español</option>
              <option value="it">Italiano</option>
              <option value="pt">Português</option>
              <option value="ja">日本語</option>
            </select>
          </label>
          <fieldset class="avatar-choice">
            <legend>Avatar</legend>
            {props.avatars.map((name) => (
              <label key={name} class={draft.avatar === name ? "chosen" : ""} title={name}>
                <input type="radio" name="avatar" value={name} checked={draft.avatar === name} onChange={() => set({ avatar: name })} />
                <Avatar avatar={name} />
                <span class="sr-only">{name}</span>
              </label>
            ))}
          </fieldset>
        </div>
      </div>
      <div class="form-actions">
        <button type="submit" class="button button-light" data-testid="profile-save" disabled={busy}>
          Save
        </button>
        <button type="button" class="button button-ghost" onClick={() => props.onDone(false)}>
          Cancel
        </button>
        {props.editing ? (
          confirming ? (
            <button type="button" class="button button-red" data-testid="profile-delete-confirm" disabled={busy} onClick={() => void remove()}>
              Delete {props.editing.name} for good
            </button>
          ) : (
            <button type="button" class="button button-ghost" data-testid="profile-delete" onClick={() => setConfirming(true)}>
              Delete profile
            </button>
          )
        ) : null}
      </div>
    </form>
  );
}

export function Profiles(): JSX.Element {
  const location = useLocation();
  const [profiles, setProfiles] = useState<Profile[] | null>(null);
  const [avatars, setAvatars] = useState<string[]>([]);
  const [form, setForm] = useState<{ editing: Profile | null } | null>(null);
  const [manage, setManage] = useState(false);
  const [busy, setBusy] = useState<string | null>(null);

  const load = async (): Promise<void> => {
    try {
      const [page, av] = await Promise.all([
        get<PageOf<Profile>>("/api/identity/profiles?limit=20"),
        get<{ avatars: string[] }>("/api/identity/avatars"),
      ]);
      setProfiles(page.items);
      setAvatars(av.avatars);
    } catch (err) {
      report(err);
      setProfiles((p) => p ?? []);
    }
  };
  useEffect(() => {
    void load();
  }, []);

  const choose = async (profile: Profile): Promise<void> => {
    if (manage) {
      setForm({ editing: profile });
      return;
    }
    if (busy) return;
    setBusy(profile.id);
    clearBanner();
    try {
      await post<Session>(`/api/identity/profiles/${profile.id}/select`);
      await refreshMe();
      const next = location.query.get("next");
      navigate(next && next.startsWith("/") && !next.startsWith("//") ? next : "/");
    } catch (err) {
      report(err);
    } finally {
      setBusy(null);
    }
  };

  if (form) {
    return (
      <Page class="profiles-page">
        <ProfileForm
          editing={form.editing}
          avatars={avatars}
          onDone={(changed) => {
            setForm(null);
            if (changed) void load().then(() => refreshMe().catch(report));
          }}
        />
      </Page>
    );
  }

  return (
    <Page class="profiles-page">
      <section data-testid="profile-picker" class="profile-picker" aria-labelledby="picker-title">
        <h1 id="picker-title">{manage ? "Manage profiles" : "Who's watching?"}</h1>
        {profiles === null ? (
          <Spinner label="Loading profiles" />
        ) : (
          <ul class="profile-list">
            {profiles.map((p) => (
              <li key={p.id} class="profile-tile">
                <button
                  type="button"
                  class={`profile-card ${manage ? "managing" : ""}`}
                  data-testid="profile-card"
                  data-profile-id={p.id}
                  data-kids={p.kids ? "true" : "false"}
                  aria-label={manage ? `Edit ${p.name}` : `Watch as ${p.name}${p.kids ? " (kids)" : ""}`}
                  aria-busy={busy === p.id}
                  onClick={() => void choose(p)}
                >
                  <Avatar avatar={p.avatar} kids={p.kids} size="l" />
                  <span class="profile-name">{p.name}</span>
                </button>
              </li>
            ))}
            {profiles.length < MAX_PROFILES ? (
              <li class="profile-tile">
                <button type="button" class="profile-add" data-testid="profile-add" aria-label="Add profile" onClick={() => setForm({ editing: null })}>
                  <span class="add-icon" aria-hidden="true" />
                  <span class="profile-name" aria-hidden="true">
                    Add profile
                  </span>
                </button>
              </li>
            ) : null}
          </ul>
        )}
        {profiles && profiles.length === 0 ? <p class="muted center">Add a profile for each person who watches.</p> : null}
        {profiles && profiles.length > 0 ? (
          <button type="button" class="button button-outline" data-testid="profile-manage" aria-pressed={manage} onClick={() => setManage(!manage)}>
            {manage ? "Done" : "Manage profiles"}
          </button>
        ) : null}
      </section>
    </Page>
  );
}
