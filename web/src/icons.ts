// icons.ts — stroke icons (24×24 path data, drawn for Bulwark) used through
// dom.svgIcon(); constants only, so no untrusted data reaches an SVG.
export const ICONS = {
	shield: ['M12 3l7 3v5c0 4.5-3 8.5-7 10-4-1.5-7-5.5-7-10V6l7-3z', 'M9 12l2 2 4-4'],
	users: [
		'M16 20v-1.5a3.5 3.5 0 0 0-3.5-3.5h-5A3.5 3.5 0 0 0 4 18.5V20',
		'M10 11a3.5 3.5 0 1 0 0-7 3.5 3.5 0 0 0 0 7z',
		'M20 20v-1.5a3.5 3.5 0 0 0-2.5-3.35',
		'M15.5 4.15a3.5 3.5 0 0 1 0 6.7',
	],
	dept: ['M9 3h6v5H9z', 'M12 8v4', 'M5 12h14', 'M5 12v4', 'M19 12v4', 'M2 16h6v5H2z', 'M16 16h6v5h-6z'],
	folder: ['M3 6a1 1 0 0 1 1-1h5l2 2h9a1 1 0 0 1 1 1v10a1 1 0 0 1-1 1H4a1 1 0 0 1-1-1z'],
	policy: ['M4 6h9', 'M17 6h3', 'M4 12h3', 'M11 12h9', 'M4 18h11', 'M19 18h1', 'M15 4v4', 'M9 10v4', 'M17 16v4'],
	audit: ['M14 3H7a2 2 0 0 0-2 2v14a2 2 0 0 0 2 2h10a2 2 0 0 0 2-2V8z', 'M14 3v5h5', 'M9 13h6', 'M9 17h6'],
	logout: ['M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3', 'M10 17l-5-5 5-5', 'M5 12h11'],
	globe: [
		'M12 21a9 9 0 1 0 0-18 9 9 0 0 0 0 18z',
		'M3 12h18',
		'M12 3c2.5 2.5 3.8 5.5 3.8 9s-1.3 6.5-3.8 9c-2.5-2.5-3.8-5.5-3.8-9S9.5 5.5 12 3z',
	],
	copy: [
		'M8 8h11a1 1 0 0 1 1 1v11a1 1 0 0 1-1 1H9a1 1 0 0 1-1-1z',
		'M16 8V5a1 1 0 0 0-1-1H5a1 1 0 0 0-1 1v10a1 1 0 0 0 1 1h3',
	],
	download: ['M12 4v11', 'M7 10l5 5 5-5', 'M5 20h14'],
	check: ['M5 12l5 5 9-10'],
	x: ['M6 6l12 12', 'M18 6L6 18'],
	alert: ['M12 3l9.5 17h-19z', 'M12 10v4', 'M12 17.5v.01'],
	refresh: ['M20 11a8 8 0 0 0-14.5-4.5L4 8', 'M4 4v4h4', 'M4 13a8 8 0 0 0 14.5 4.5L20 16', 'M20 20v-4h-4'],
	device: ['M4 5h16v11H4z', 'M9 20h6', 'M12 16v4'],
	lock: ['M6 11h12v10H6z', 'M8 11V8a4 4 0 0 1 8 0v3'],
	plus: ['M12 5v14', 'M5 12h14'],
	eye: ['M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z', 'M12 15a3 3 0 1 0 0-6 3 3 0 0 0 0 6z'],
	user: ['M12 12a4 4 0 1 0 0-8 4 4 0 0 0 0 8z', 'M4 21v-1a6 6 0 0 1 6-6h4a6 6 0 0 1 6 6v1'],
	key: ['M14 10a4 4 0 1 0-4 4', 'M13 11l7 7', 'M17 15l2-2', 'M19 17l2-2'],
	chevronLeft: ['M15 6l-6 6 6 6'],
	chevronRight: ['M9 6l6 6-6 6'],
} as const;

export type IconName = keyof typeof ICONS;
