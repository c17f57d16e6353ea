package tui

import (
	"context"
	"errors"

	"polyglot/protocols"
)

// errDemoAdds is the demo's answer to the add form: the form works, the
// demo world just has nowhere to add an account.
var errDemoAdds = errors.New("this is the demo: nothing was added and nothing left this machine. " +
	"To add it for real, quit and run `" + addAccountCommand + "`, then start polyglot")

// demoAdder lets the add-account form be tried in the demo world.
type demoAdder struct{}

func (demoAdder) AddNetworks() []protocols.Network {
	return []protocols.Network{protocols.XMPP, protocols.Matrix, protocols.WhatsApp}
}

func (demoAdder) CheckAdd(AddAccountRequest) error { return nil }

func (demoAdder) AddAccount(context.Context, AddAccountRequest, []byte) (string, error) {
	return "", errDemoAdds
}

// LinkAccount lets the demo's form offer WhatsApp; it links nothing.
func (demoAdder) LinkAccount(context.Context, LinkRequest, func(LinkPrompt)) (string, error) {
	return "", errDemoAdds
}
