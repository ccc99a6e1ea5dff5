// views/shell.ts — the signed-in frame: left rail (bottom bar on phones),
// top bar with who/where/which device, and the hash router (#/chat,
// #/docs, #/security, #/users, #/departments, #/policy, #/audit).  Only the pages
// the role can use are shown.  Chat is the first entry and the start page
// of every role that chats (all but the audit administrator, whom the
// server keeps out of chat); its rail entry carries the unread count (from the chat
// store, which the event stream keeps current on every page), and hash
// changes inside #/chat (#/chat/ID) are left to the chat page.  Documents
// (#/docs…) follow the chat's roles and, like chat, follow their own hash
// changes (#/docs/ID, #/docs/f/ID, #/docs/trash) once shown.
import type { Role, SessionInfo } from '../api';
import { h, replace } from '../dom';
import { type Key, t } from '../i18n';
import type { IconName } from '../icons';
import { type ChatStore, chatStore } from '../chat-store';
import { badge, button, icon, langSwitch } from '../ui';
import { auditPage } from './audit';
import { chatPage } from './chat';
import { docsPage } from './docs';
import { departmentsPage } from './departments';
import { policyPage } from './policy';
import { securityPage } from './security';
import { usersPage } from './users';

export interface AppCtx {
	session: SessionInfo;
	signOut(): Promise<void>;
	refresh(): Promise<SessionInfo | null>;
}

type RouteId = 'chat' | 'docs' | 'security' | 'users' | 'departments' | 'policy' | 'audit';

interface Route {
	id: RouteId;
	icon: IconName;
	label: Key;
	/** The rail's label when label is too long for it (default: label). */
	railLabel?: Key;
	roles: Role[] | null;
	page(ctx: AppCtx): HTMLElement;
}

/** Roles that take part in chat (audit administrators do not: separation of duties). */
const CHAT_ROLES: Role[] = ['member', 'guest', 'sysadmin', 'secadmin'];

const ROUTES: Route[] = [
	{ id: 'chat', icon: 'chat', label: 'nav.chat', roles: CHAT_ROLES, page: chatPage },
	{ id: 'docs', icon: 'doc', label: 'nav.docs', roles: CHAT_ROLES, page: docsPage },
	{ id: 'security', icon: 'shield', label: 'nav.security', roles: null, page: securityPage },
	{ id: 'users', icon: 'users', label: 'nav.users', roles: ['sysadmin', 'secadmin'], page: usersPage },
	{
		id: 'departments',
		icon: 'dept',
		label: 'nav.departments',
		railLabel: 'nav.departmentsRail',
		roles: ['sysadmin', 'secadmin'],
		page: departmentsPage,
	},
	{ id: 'policy', icon: 'policy', label: 'nav.policy', roles: ['sysadmin', 'secadmin'], page: policyPage },
	{ id: 'audit', icon: 'audit', label: 'nav.audit', roles: ['auditadmin'], page: auditPage },
];

export function roleLabel(role: Role): string {
	return t(`role.${role}` as Key);
}

/** The routes this role may open. */
export function allowedRoutes(role: Role): Route[] {
	return ROUTES.filter((r) => !r.roles || r.roles.includes(role));
}

function defaultRoute(role: Role): RouteId {
	if (CHAT_ROLES.includes(role)) return 'chat';
	if (role === 'auditadmin') return 'audit';
	return 'security';
}

function currentRoute(role: Role): Route {
	const allowed = allowedRoutes(role);
	const want = location.hash.replace(/^#\/?/, '').split(/[/?]/)[0];
	return allowed.find((r) => r.id === want) ?? allowed.find((r) => r.id === defaultRoute(role)) ?? allowed[0];
}

export function appShell(ctx: AppCtx): () => Node {
	const holder = h('div', { class: 'shell-holder' });
	const s = ctx.session;
	let newDevice = false;

	let rail: HTMLElement;
	let title: HTMLElement;
	let content: HTMLElement;
	let shellEl: HTMLElement;
	let shown: RouteId | null = null;
	const chat: ChatStore | null = CHAT_ROLES.includes(s.user.role) ? chatStore(s) : null;

	/** The chat entry's unread badge and the window title's count. */
	function drawUnread(): void {
		if (!chat || (!holder.isConnected && shown !== null)) return;
		const n = chat.totalUnread();
		const item = rail?.querySelector('a[data-route="chat"]');
		if (item) {
			let b = item.querySelector<HTMLElement>('.rail-badge');
			if (n > 0) {
				if (!b) {
					b = h('span', { class: 'rail-badge', testid: 'nav-chat-unread' });
					item.appendChild(b);
				}
				b.textContent = n > 99 ? '99+' : String(n);
				b.setAttribute('aria-label', t('chat.unreadN', { n }));
			} else b?.remove();
		}
		const route = currentRoute(s.user.role);
		const base = `${t(route.label)} · ${t('app.name')}`;
		document.title = n > 0 ? `(${n > 99 ? '99+' : n}) ${base}` : base;
	}
	const offChat = chat?.on((c) => {
		if (!holder.isConnected && shown !== null) {
			offChat?.();
			return;
		}
		if (c.kind === 'list' || c.kind === 'reset') drawUnread();
	});

	function navigate(focus: boolean): void {
		const route = currentRoute(s.user.role);
		for (const a of rail.querySelectorAll<HTMLAnchorElement>('a.rail-item')) {
			if (a.dataset.route === route.id) a.setAttribute('aria-current', 'page');
			else a.removeAttribute('aria-current');
		}
		shellEl.classList.toggle('shell-chat', route.id === 'chat' || route.id === 'docs');
		content.classList.toggle('content-chat', route.id === 'chat');
		content.classList.toggle('content-docs', route.id === 'docs');
		if ((route.id === 'chat' || route.id === 'docs') && shown === route.id && content.firstChild) {
			/* #/chat/ID, #/docs/ID: the page follows the hash itself */
			return;
		}
		shown = route.id;
		if (route.id === 'security') {
			newDevice = false;
			rail.querySelector('.rail-dot')?.remove();
		}
		replace(title, t(route.label));
		document.title = `${t(route.label)} · ${t('app.name')}`;
		replace(content, route.page(ctx));
		drawUnread();
		if (focus) {
			window.scrollTo(0, 0);
			content.focus({ preventScroll: true });
		}
	}

	function draw(): void {
		const route = currentRoute(s.user.role);
		rail = h(
			'nav',
			{ class: ['rail', allowedRoutes(s.user.role).length < 2 && 'rail-single'], attrs: { 'aria-label': t('nav.label') } },
			h('div', { class: 'rail-brand', title: t('app.name') }, icon('shield')),
			h(
				'ul',
				{ class: 'rail-list' },
				allowedRoutes(s.user.role).map((r) =>
					h(
						'li',
						null,
						h(
							'a',
							{
								class: 'rail-item',
								href: `#/${r.id}`,
								testid: `nav-${r.id}`,
								attrs: { 'data-route': r.id, 'aria-current': r.id === route.id ? 'page' : null },
							},
							icon(r.icon, 'icon rail-icon'),
							h('span', { class: 'rail-label' }, t(r.railLabel ?? r.label)),
							r.id === 'security' && newDevice ? h('span', { class: 'rail-dot', attrs: { 'aria-label': t('devices.new') } }) : null,
						),
					),
				),
			),
		);
		title = h('h1', { class: 'page-title', tabIndex: -1 });
		content = h('main', { id: 'content', class: 'content', tabIndex: -1, attrs: { 'aria-labelledby': 'page-title' } });
		title.id = 'page-title';
		const name = s.user.display_name || s.user.username;
		const topbar = h(
			'header',
			{ class: 'topbar' },
			title,
			h(
				'div',
				{ class: 'topbar-info' },
				h(
					'span',
					{ class: 'chip', title: t('top.tenant'), testid: 'top-tenant' },
					icon('users', 'icon icon-sm'),
					h('span', { class: 'sr-only' }, `${t('top.tenant')}: `),
					s.tenant.name,
				),
				h(
					'span',
					{ class: 'chip chip-device', title: t('top.device'), testid: 'top-device' },
					icon('device', 'icon icon-sm'),
					h('span', { class: 'sr-only' }, `${t('top.device')}: `),
					s.device.name || t('common.unknown'),
				),
				h(
					'span',
					{ class: 'who', testid: 'top-user' },
					h('span', { class: 'avatar', attrs: { 'aria-hidden': 'true' } }, name.slice(0, 1).toUpperCase()),
					h('span', { class: 'who-text' }, h('span', { class: 'who-name' }, name), badge(roleLabel(s.user.role), 'brand', 'top-role')),
				),
				langSwitch(),
				button(t('common.signOut'), {
					icon: 'logout',
					kind: 'ghost',
					small: true,
					testid: 'signout',
					onClick: () => void ctx.signOut(),
				}),
			),
		);
		const skip = h(
			'button',
			{ type: 'button', class: 'skip-link', on: { click: () => content.focus() } },
			t('common.skipToContent'),
		);
		shellEl = h('div', { class: 'shell' }, skip, rail, h('div', { class: 'main' }, topbar, content));
		replace(holder, shellEl);
		shown = null;
		navigate(false);
	}

	const onHash = () => {
		if (!holder.isConnected) {
			window.removeEventListener('hashchange', onHash);
			document.removeEventListener('bulwark:new-device', onNewDevice);
			return;
		}
		navigate(true);
	};
	const onNewDevice = () => {
		if (!holder.isConnected) return;
		if (currentRoute(s.user.role).id === 'security') {
			navigate(false);
			return;
		}
		newDevice = true;
		const item = rail.querySelector('a[data-route="security"]');
		if (item && !item.querySelector('.rail-dot'))
			item.appendChild(h('span', { class: 'rail-dot', attrs: { 'aria-label': t('devices.new') } }));
	};
	window.addEventListener('hashchange', onHash);
	document.addEventListener('bulwark:new-device', onNewDevice);

	return () => {
		draw();
		return holder;
	};
}
