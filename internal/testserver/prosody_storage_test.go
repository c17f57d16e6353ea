package testserver

import (
	"strings"
	"testing"
	"time"
)

// TestParseProsodyList reads a list store as util.serialization writes it:
// escapes (\' \" \\ \n, decimal bytes for UTF-8 and controls), nested
// stanza tables, and a last item still being appended, which is left out.
func TestParseProsodyList(t *testing.T) {
	src := `item({
	{
		"caf\195\169 \"quoted\" it\'s a\\b\nline 2 <&>";
		["name"] = "body";
		["attr"] = {};
	};
	{
		["name"] = "encrypted";
		["attr"] = {
			["xmlns"] = "eu.siacs.conversations.axolotl";
		};
	};
	["key"] = "B7LrNqlN9peXq5Mgh7QoDXgX";
	["with"] = "alice@localhost";
	["when"] = 1796280921;
	["name"] = "message";
	["attr"] = {
		["to"] = "bob@localhost";
		["xml:lang"] = "en";
	};
});
item({
	["key"] = "half";
	["name"] = "mess`
	items, err := parseProsodyList("archive", src)
	if err != nil {
		t.Fatal(err)
	}
	if len(items) != 1 {
		t.Fatalf("got %d items, want 1 (the half-written one left out): %+v", len(items), items)
	}
	it := items[0]
	want := `<message to="bob@localhost" xml:lang="en"><body>café &quot;quoted&quot; it's a\b` + "\n" +
		`line 2 &lt;&amp;&gt;</body><encrypted xmlns="eu.siacs.conversations.axolotl"/></message>`
	if it.XML != want {
		t.Errorf("XML\n got %s\nwant %s", it.XML, want)
	}
	if it.Store != "archive" || it.Key != "B7LrNqlN9peXq5Mgh7QoDXgX" || it.With != "alice@localhost" || !it.When.Equal(time.Unix(1796280921, 0)) {
		t.Errorf("item fields: %+v", it)
	}
	if _, err := parseProsodyList("archive", "item({ [\"name\"] = ; });\nitem({});\n"); err == nil || !strings.Contains(err.Error(), "offset") {
		t.Errorf("a corrupt item before another one is no error: %v", err)
	}
	if got := prosodyEncode("bob.smith-1"); got != "bob%2esmith%2d1" {
		t.Errorf("prosodyEncode = %q", got)
	}
}
