package themes

import "maps"

// palette maps a semantic key ("colors.accent", "networks.matrix", …) to a
// colour value as lipgloss reads it; "" means the terminal's default.
type palette map[string]string

// Keys lists every semantic key a theme file may set, as table.key.
var Keys = []string{
	"colors.text", "colors.accent", "colors.dim", "colors.title", "colors.border",
	"colors.status_fg", "colors.status_bg", "colors.selected_fg", "colors.selected_bg",
	"colors.unread_fg", "colors.unread_bg", "colors.own", "colors.their",
	"colors.system", "colors.request", "colors.error", "colors.warning",
	"colors.code", "colors.code_bg", "colors.link", "colors.quote",
	"colors.mention_fg", "colors.mention_bg", "colors.divider",
	"networks.matrix", "networks.xmpp", "networks.whatsapp",
	"encryption.none", "encryption.transport", "encryption.e2ee", "encryption.verified",
	"delivery.queued", "delivery.sent", "delivery.delivered", "delivery.read", "delivery.failed",
}

var builtins = map[string]palette{
	"dark": {
		"colors.text": "", "colors.accent": "#7aa2f7", "colors.dim": "#6c7086",
		"colors.title": "#c0caf5", "colors.border": "#414868",
		"colors.status_fg": "#c0caf5", "colors.status_bg": "#24283b",
		"colors.selected_fg": "#ffffff", "colors.selected_bg": "#3d59a1",
		"colors.unread_fg": "#1a1b26", "colors.unread_bg": "#7aa2f7",
		"colors.own": "#9ece6a", "colors.their": "", "colors.system": "#a9b1d6",
		"colors.request": "#e0af68", "colors.error": "#f7768e", "colors.warning": "#e0af68",
		"colors.code": "#ff9e64", "colors.code_bg": "#292e42", "colors.link": "#7dcfff", "colors.quote": "#565f89",
		"colors.mention_fg": "#1a1b26", "colors.mention_bg": "#e0af68", "colors.divider": "#f7768e",
		"networks.matrix": "#0dbd8b", "networks.xmpp": "#f5a623", "networks.whatsapp": "#25d366",
		"encryption.none": "#f7768e", "encryption.transport": "#e0af68",
		"encryption.e2ee": "#9ece6a", "encryption.verified": "#73daca",
		"delivery.queued": "#6c7086", "delivery.sent": "#a9b1d6", "delivery.delivered": "#a9b1d6",
		"delivery.read": "#7dcfff", "delivery.failed": "#f7768e",
	},
	"light": {
		"colors.text": "", "colors.accent": "#2e5cb8", "colors.dim": "#8c8fa1",
		"colors.title": "#1e1e2e", "colors.border": "#acb0be",
		"colors.status_fg": "#1e1e2e", "colors.status_bg": "#dce0e8",
		"colors.selected_fg": "#ffffff", "colors.selected_bg": "#2e5cb8",
		"colors.unread_fg": "#ffffff", "colors.unread_bg": "#2e5cb8",
		"colors.own": "#40802b", "colors.their": "", "colors.system": "#5c5f77",
		"colors.request": "#9a6700", "colors.error": "#c4262e", "colors.warning": "#9a6700",
		"colors.code": "#a0400a", "colors.code_bg": "#e6e9ef", "colors.link": "#1f6fd1", "colors.quote": "#8c8fa1",
		"colors.mention_fg": "#1e1e2e", "colors.mention_bg": "#f4c069", "colors.divider": "#c4262e",
		"networks.matrix": "#0a8a66", "networks.xmpp": "#b86e00", "networks.whatsapp": "#128c4a",
		"encryption.none": "#c4262e", "encryption.transport": "#9a6700",
		"encryption.e2ee": "#40802b", "encryption.verified": "#177a70",
		"delivery.queued": "#8c8fa1", "delivery.sent": "#5c5f77", "delivery.delivered": "#5c5f77",
		"delivery.read": "#1f6fd1", "delivery.failed": "#c4262e",
	},
}

func (p palette) clone() palette { return maps.Clone(p) }
