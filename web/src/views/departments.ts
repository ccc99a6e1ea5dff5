// views/departments.ts — "Departments": the tenant's department tree.
// sysadmin creates departments (top level or under a parent); secadmin sees
// the tree read-only (separation of duties: organisation structure belongs
// to the system administrator).  Names are bounded as in docs/openapi.yaml
// and by the server (64 characters, 256 UTF-8 bytes); the server checks them again.
import { type Schemas, api } from '../api';
import {
	DEPT_NAME_MAX_CHARS,
	type DeptNameProblem,
	type DeptNode,
	type DeptTree,
	buildDeptTree,
	checkDeptName,
	deptOptions,
} from '../depts';
import { h, replace } from '../dom';
import { type Key, t } from '../i18n';
import { alertBox, asyncView, badge, busy, button, errorText, icon, section, selectField, textField } from '../ui';
import type { AppCtx } from './shell';

const PROBLEM_TEXT: Record<DeptNameProblem, Key> = {
	empty: 'form.required',
	tooLong: 'dept.nameTooLong',
	invalid: 'dept.nameInvalid',
	taken: 'dept.nameTaken',
};

export function departmentsPage(ctx: AppCtx): HTMLElement {
	const canEdit = ctx.session.user.role === 'sysadmin';
	let tree: DeptTree = buildDeptTree([]);
	/** Id of the department created last on this page (highlighted). */
	let fresh: number | null = null;

	const treeHolder = h('div', { class: 'dept-tree-holder' });
	const count = h('span', { class: 'muted', attrs: { 'aria-live': 'polite' } });

	// ---- create form (sysadmin) ----
	const name = textField({
		label: t('dept.name'),
		testid: 'dept-name-input',
		maxLength: DEPT_NAME_MAX_CHARS,
		required: true,
		autocomplete: 'off',
		hint: t('dept.nameHint'),
	});
	const parent = selectField(t('dept.parent'), [], { testid: 'dept-parent-select', hint: t('dept.parentHint') });
	const err = alertBox('dept-error');
	const done = alertBox('dept-done');
	const create = button(t('dept.create'), { kind: 'primary', type: 'submit', icon: 'plus', testid: 'dept-create' });
	name.input.addEventListener('input', () => done.set(null));

	function fillParents(): void {
		const keep = parent.input.value;
		replace(
			parent.input,
			[{ value: '', label: t('dept.noParent') }, ...deptOptions(tree)].map((o) => h('option', { value: o.value }, o.label)),
		);
		parent.input.value = keep && tree.byId.has(Number(keep)) ? keep : '';
	}

	/** Puts the form on "new department under p" and moves focus to the name. */
	function addUnder(p: DeptNode): void {
		parent.input.value = String(p.dept.id);
		err.set(null);
		done.set(null);
		name.setError(null);
		name.input.focus();
		name.input.scrollIntoView({ block: 'nearest' });
	}

	const form = h(
		'form',
		{
			class: 'form',
			attrs: { novalidate: true },
			on: {
				submit: (ev) => {
					ev.preventDefault();
					err.set(null);
					done.set(null);
					const value = name.input.value.trim();
					const parentId = parent.input.value ? Number(parent.input.value) : 0;
					const problem = checkDeptName(tree, value, parentId);
					if (problem) {
						name.setError(t(PROBLEM_TEXT[problem]));
						name.input.focus();
						return;
					}
					name.setError(null);
					const body: Schemas['DepartmentCreateRequest'] = { name: value };
					if (parentId) body.parent_id = parentId;
					void (async () => {
						try {
							const r = await busy(create, () => api('post', '/api/v1/departments', { body }));
							fresh = r.department.id;
							tree = buildDeptTree([...tree.list, r.department]);
							drawTree();
							fillParents();
							name.input.value = '';
							name.input.focus();
							done.set(t('dept.created', { name: r.department.name }), 'success');
						} catch (e) {
							err.set(errorText(e));
						}
					})();
				},
			},
		},
		name.wrap,
		parent.wrap,
		err.el,
		done.el,
		h('div', { class: 'form-actions' }, create),
	);

	// ---- the tree ----
	function row(n: DeptNode): HTMLElement {
		const d = n.dept;
		const isFresh = d.id === fresh;
		return h(
			'div',
			{ class: ['dept-row', isFresh && 'is-fresh'], testid: 'dept-row', attrs: { 'data-dept-id': d.id } },
			icon('folder', 'icon dept-icon'),
			h(
				'span',
				{ class: 'dept-text' },
				h('span', { class: 'dept-name' }, d.name),
				h('span', { class: 'dept-id mono' }, `#${d.id}`),
				n.children.length
					? h('span', { class: 'dept-meta' }, n.children.length === 1 ? t('dept.subOne') : t('dept.subN', { n: n.children.length }))
					: null,
				isFresh ? badge(t('dept.justCreated'), 'success') : null,
			),
			canEdit
				? h(
						'button',
						{
							type: 'button',
							class: 'btn btn-ghost btn-sm dept-add',
							title: t('dept.addChildTo', { name: d.name }),
							attrs: { 'aria-label': t('dept.addChildTo', { name: d.name }) },
							on: { click: () => addUnder(n) },
						},
						icon('plus'),
						h('span', { class: 'btn-label' }, t('dept.addChild')),
					)
				: null,
		);
	}

	/** Nested lists, built without recursion (the depth is the server's). */
	function treeList(): HTMLElement {
		const top = h('ul', { class: 'dept-tree', attrs: { 'aria-label': t('dept.treeLabel') } });
		const listOf = new Map<number, HTMLElement>();
		for (const n of tree.ordered) {
			const li = h('li', { class: 'dept-item' }, row(n));
			const into = n.parent ? listOf.get(n.parent.dept.id) : top;
			(into ?? top).appendChild(li);
			if (n.children.length) {
				const ul = h('ul', { class: 'dept-sub' });
				li.appendChild(ul);
				listOf.set(n.dept.id, ul);
			}
		}
		return top;
	}

	function drawTree(): void {
		const n = tree.ordered.length;
		replace(count, n === 1 ? t('dept.countOne') : t('dept.count', { n }));
		if (!n) {
			replace(
				treeHolder,
				h(
					'div',
					{ class: 'dept-empty' },
					icon('dept', 'icon dept-empty-icon'),
					h('p', null, t('dept.none')),
					canEdit ? h('p', { class: 'muted' }, t('dept.noneCreate')) : null,
				),
			);
			return;
		}
		replace(treeHolder, treeList());
	}

	const list = asyncView(async () => {
		const r = await api('get', '/api/v1/departments');
		tree = buildDeptTree(r.departments);
		drawTree();
		fillParents();
		return treeHolder;
	}, 'dept-list');

	const treeCard = section(
		t('dept.title'),
		canEdit
			? h('p', { class: 'muted' }, t('dept.sysadminNote'))
			: h(
					'div',
					{ class: 'status-line dept-status' },
					badge(t('dept.readOnly'), 'warning', 'dept-readonly'),
					h('span', { class: 'muted' }, t('dept.readOnlyNote')),
				),
		h(
			'div',
			{ class: 'toolbar dept-toolbar' },
			count,
			button(t('common.refresh'), { icon: 'refresh', small: true, testid: 'dept-refresh', onClick: () => list.reload() }),
		),
		list.el,
	);

	if (!canEdit) return h('div', { class: 'page page-departments' }, treeCard);
	fillParents();
	return h(
		'div',
		{ class: 'page page-departments' },
		h('div', { class: 'dept-layout' }, treeCard, section(t('dept.createTitle'), form)),
	);
}
