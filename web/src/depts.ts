// depts.ts — the department tree of a tenant, built from the flat list that
// GET /api/v1/departments returns (WC-UI).  Used by the Departments page and
// by the Users page (department select, names instead of ids).
//
// The list comes from the server, so it is not trusted to be a tree: a
// parent that is missing, the department itself, or a cycle makes the
// department a top-level one instead of hiding it.  Everything here is
// iterative, so a very deep chain cannot overflow the stack.
import type { Schemas } from './api';
import { getLang, t } from './i18n';

export type Dept = Schemas['Department'];

export interface DeptNode {
	dept: Dept;
	/** 0 for a top-level department. */
	depth: number;
	/** null for a top-level department (or one whose parent is unusable). */
	parent: DeptNode | null;
	children: DeptNode[];
	/** Names from the top-level department down to this one. */
	path: string[];
}

export interface DeptTree {
	/** The list as the server sent it. */
	list: Dept[];
	roots: DeptNode[];
	byId: Map<number, DeptNode>;
	/** Every node in display order: depth first, siblings sorted by name. */
	ordered: DeptNode[];
}

/** Longest department name the server accepts, in UTF-8 bytes. */
export const DEPT_NAME_MAX_BYTES = 256;
/** Longest department name the API description allows, in characters. */
export const DEPT_NAME_MAX_CHARS = 64;

/** Builds the tree; the caller owns the result (nothing is shared with list). */
export function buildDeptTree(list: Dept[]): DeptTree {
	const collator = new Intl.Collator(getLang(), { sensitivity: 'base', numeric: true });
	const byId = new Map<number, DeptNode>();
	for (const d of list) {
		if (!byId.has(d.id)) byId.set(d.id, { dept: d, depth: 0, parent: null, children: [], path: [] });
	}
	const kids = new Map<number, DeptNode[]>();
	const tops: DeptNode[] = [];
	for (const n of byId.values()) {
		const pid = n.dept.parent_id ?? 0;
		if (pid && pid !== n.dept.id && byId.has(pid)) {
			const arr = kids.get(pid);
			if (arr) arr.push(n);
			else kids.set(pid, [n]);
		} else tops.push(n);
	}
	const cmp = (a: DeptNode, b: DeptNode) => collator.compare(a.dept.name, b.dept.name) || a.dept.id - b.dept.id;
	for (const arr of kids.values()) arr.sort(cmp);
	tops.sort(cmp);

	const roots: DeptNode[] = [];
	const ordered: DeptNode[] = [];
	const seen = new Set<number>();
	const walk = (root: DeptNode) => {
		root.parent = null;
		root.depth = 0;
		root.path = [root.dept.name];
		roots.push(root);
		const stack: DeptNode[] = [root];
		seen.add(root.dept.id);
		while (stack.length) {
			const n = stack.pop() as DeptNode;
			ordered.push(n);
			const cs = (kids.get(n.dept.id) ?? []).filter((c) => !seen.has(c.dept.id));
			n.children = cs;
			for (const c of cs) {
				seen.add(c.dept.id);
				c.parent = n;
				c.depth = n.depth + 1;
				c.path = [...n.path, c.dept.name];
			}
			for (let i = cs.length - 1; i >= 0; i--) stack.push(cs[i]);
		}
	};
	for (const n of tops) walk(n);
	/* Whatever is left sits on a parent cycle: show it at the top level. */
	const rest = [...byId.values()].filter((n) => !seen.has(n.dept.id)).sort(cmp);
	for (const n of rest) if (!seen.has(n.dept.id)) walk(n);
	return { list: [...list], roots, byId, ordered };
}

/** "Engineering / Backend" for a department id; a placeholder if unknown. */
export function deptPath(tree: DeptTree, id: number): string {
	const n = tree.byId.get(id);
	return n ? n.path.join(t('dept.pathSep')) : t('dept.unknown', { id });
}

/** The department's own name; a placeholder if unknown. */
export function deptName(tree: DeptTree, id: number): string {
	const n = tree.byId.get(id);
	return n ? n.dept.name : t('dept.unknown', { id });
}

/** Options for a department <select>, in tree order, labelled by full path. */
export function deptOptions(tree: DeptTree): { value: string; label: string }[] {
	return tree.ordered.map((n) => ({ value: String(n.dept.id), label: n.path.join(t('dept.pathSep')) }));
}

/** Length of s in UTF-8 bytes. */
export function utf8Length(s: string): number {
	return new TextEncoder().encode(s).length;
}

export type DeptNameProblem = 'empty' | 'tooLong' | 'invalid' | 'taken';

/**
 * Checks a trimmed department name before it is sent: not empty, within the
 * API's limits, no control characters, and not the name of a sibling under
 * the same parent (0 = top level).  Returns null when it is fine.
 */
export function checkDeptName(tree: DeptTree, name: string, parentId: number): DeptNameProblem | null {
	if (!name) return 'empty';
	if ([...name].length > DEPT_NAME_MAX_CHARS || utf8Length(name) > DEPT_NAME_MAX_BYTES) return 'tooLong';
	if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/.test(name)) return 'invalid';
	const siblings = parentId ? (tree.byId.get(parentId)?.children ?? []) : tree.roots;
	const collator = new Intl.Collator(getLang(), { sensitivity: 'accent' });
	if (siblings.some((s) => collator.compare(s.dept.name.trim(), name) === 0)) return 'taken';
	return null;
}
