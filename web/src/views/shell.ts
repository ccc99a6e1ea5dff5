// views/shell.ts — the signed-in frame: left rail (bottom bar on phones),
// top bar with who/where/which device, and the hash router (#/security,
// #/users, #/departments, #/policy, #/audit).  Only the pages the role can
// use are shown.
import type { Role, SessionInfo } from '../api';
import { h, replace } from '../dom';
import { type Key, t } from '../i18n';
import type { IconName } from '../icons';
import { badge, button, icon, langSwitch } from '../ui';
import { auditPage } from './audit';
import { departmentsPage } from './departments';
import { policyPage } from './policy';
import { securityPage } from './security';
import { usersPage } from './users';

export interface AppCtx {
	session: SessionInfo;
	signOut(): Promise<void>;
	refresh(): Promise<SessionInfo | null>;
}

type RouteId = 'security' | 'users' | 'departments' | 'policy' | 'audit';

interface Route {
	id: RouteId;
	icon: IconName;
	label: Key;
	/** The rail's label when label is too long for it (default: label). */
	railLabel?: Key;
	roles: Role[] | null;
	page(ctx: AppCtx): HTMLElement;
}

const ROUTES: Route[] = [
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
	if (role === 'auditadmin') return 'audit';
	if (role === 'sysadmin' || role === 'secadmin') return 'users';
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

	function navigate(focus: boolean): void {
		const route = currentRoute(s.user.role);
		for (const a of rail.querySelectorAll<HTMLAnchorElement>('a.rail-item')) {
			if (a.dataset.route === route.id) a.setAttribute('aria-current', 'page');
			else a.removeAttribute('aria-current');
		}
		if (route.id === 'security') {
			newDevice = false;
			rail.querySelector('.rail-dot')?.remove();
		}
		replace(title, t(route.label));
		document.title = `${t(route.label)} · ${t('app.name')}`;
		replace(content, route.page(ctx));
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
		replace(holder, h('div', { class: 'shell' }, skip, rail, h('div', { class: 'main' }, topbar, content)));
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
