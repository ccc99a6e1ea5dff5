// app.ts — the screen controller: restores the session on load, runs the
// sign-in → (TOTP) → (forced password change) → (TOTP enrolment) → app
// sequence, owns the event WebSocket and returns to sign-in when the
// session ends (WC-UI, PS-IA-c, PS-IA-d).
import { ApiError, type SessionInfo, api, setCsrf, setUnauthenticatedHandler } from './api';
import { replace } from './dom';
import { EventStream } from './events';
import { type Key, onLangChange, t } from './i18n';
import { clearToasts, errorText, loading, toast } from './ui';
import { enrolScreen, passwordChangeScreen, signInScreen } from './views/auth';
import { appShell } from './views/shell';

type Screen = () => Node;

const root = (() => {
	const el = document.getElementById('app');
	if (!el) throw new Error('#app missing');
	return el;
})();

let current: Screen | null = null;
let events: EventStream | null = null;
let session: SessionInfo | null = null;

/** Shows a screen; it is rendered again (same closure) on language change. */
function mount(screen: Screen): void {
	current = screen;
	replace(root, screen());
	const heading = root.querySelector<HTMLElement>('[data-autofocus]') ?? root.querySelector<HTMLElement>('h1');
	heading?.focus();
}

onLangChange(() => {
	if (current) {
		const active = document.activeElement as HTMLElement | null;
		const testid = active?.dataset.testid;
		replace(root, current());
		if (testid) root.querySelector<HTMLElement>(`[data-testid="${CSS.escape(testid)}"]`)?.focus();
	}
});

export interface SignInNotice {
	key: Key;
	tone: 'info' | 'warning' | 'danger' | 'success';
}

/** Drops all session state and shows the sign-in card. */
export function toSignIn(notice?: SignInNotice): void {
	events?.close();
	events = null;
	session = null;
	setCsrf('');
	clearToasts();
	for (const d of document.querySelectorAll('dialog')) d.close();
	document.title = t('app.title');
	mount(signInScreen({ notice, flow }));
}

/** Called after any step that may have produced a full session. */
async function afterAuth(newDevice = false): Promise<void> {
	try {
		const s = await api('get', '/api/v1/auth/session', { quiet401: true });
		routeSession(s);
		if (newDevice) toast(t('toast.thisNewDevice'), 'info');
	} catch (e) {
		if (e instanceof ApiError && e.code === 'unauthenticated') toSignIn({ key: 'notice.expired', tone: 'warning' });
		else toSignIn();
		if (!(e instanceof ApiError && e.code === 'unauthenticated')) toast(errorText(e), 'danger');
	}
}

function routeSession(s: SessionInfo): void {
	setCsrf(s.csrf_token);
	session = s;
	switch (s.scope) {
		case 'password_change':
			mount(passwordChangeScreen({ user: s.user, forced: true, flow }));
			break;
		case 'mfa_enrol':
			mount(enrolScreen({ user: s.user, flow }));
			break;
		default:
			enterApp(s);
	}
}

function enterApp(s: SessionInfo): void {
	session = s;
	mount(appShell({ session: s, signOut, refresh: refreshSession }));
	startEvents();
}

async function refreshSession(): Promise<SessionInfo | null> {
	try {
		const s = await api('get', '/api/v1/auth/session');
		setCsrf(s.csrf_token);
		session = s;
		return s;
	} catch {
		return null;
	}
}

async function signOut(): Promise<void> {
	try {
		await api('post', '/api/v1/auth/logout', { quiet401: true });
	} catch {
		/* the ticket may already be gone; the screen changes either way */
	}
	toSignIn({ key: 'notice.signedOut', tone: 'success' });
}

function startEvents(): void {
	events?.close();
	events = new EventStream({
		onSessionEnded(reason) {
			const key: Key =
				reason === 'signed_out' ? 'notice.signedOutElsewhere' : reason === 'revoked' ? 'notice.revoked' : 'notice.expired';
			toSignIn({ key, tone: reason === 'signed_out' ? 'info' : 'warning' });
		},
		onNewDevice(name, ip) {
			toast(t('toast.newDevice', { device: name || t('common.unknown'), ip: ip || '?' }), 'warning', 'toast-new-device');
			document.dispatchEvent(new CustomEvent('bulwark:new-device'));
		},
		async stillSignedIn() {
			try {
				await api('get', '/api/v1/auth/session', { quiet401: true });
				return true;
			} catch (e) {
				if (e instanceof ApiError && e.code === 'unauthenticated') {
					toSignIn({ key: 'notice.expired', tone: 'warning' });
					return false;
				}
				return true; /* network trouble: keep retrying */
			}
		},
	});
}

/** Entry points the auth screens use to move the flow forward. */
export const flow = {
	afterAuth,
	toSignIn,
	toPasswordChange(user: SessionInfo['user']) {
		mount(passwordChangeScreen({ user, forced: true, flow }));
	},
	toEnrol(user: SessionInfo['user']) {
		mount(enrolScreen({ user, flow }));
	},
	async signOut() {
		await signOut();
	},
};
export type Flow = typeof flow;

/** Page start: restore the session from the cookie, else sign in. */
export async function boot(): Promise<void> {
	setUnauthenticatedHandler(() => {
		if (session) toSignIn({ key: 'notice.expired', tone: 'warning' });
	});
	document.title = t('app.title');
	mount(() => loading());
	try {
		const s = await api('get', '/api/v1/auth/session', { quiet401: true });
		routeSession(s);
	} catch (e) {
		if (e instanceof ApiError && e.code === 'unauthenticated') toSignIn();
		else toSignIn({ key: 'notice.serverUnreachable', tone: 'danger' });
	}
}
