package main

import (
	"context"
	"sync"
)

// factory is where every command gets what it shares with the others (as
// gh's cmdutil.Factory): the streams, and on first use the app (paths,
// log, config, keystore) bound to the core the command runs against — the
// running core's accounts when the core runs the command for a client,
// else this process's own. Commands never build these themselves.
type factory struct {
	io streams
	// hosted is the running core's runtime when the core runs this
	// command line for a client (see coreHost.run), else nil.
	hosted *runtime

	once   sync.Once
	app    *app
	appErr error
}

func newFactory(ctx context.Context, io streams) *factory {
	rt, _ := ctx.Value(hostedKey{}).(*runtime)
	return &factory{io: io, hosted: rt}
}

// App is the command's app, made on first use and closed by close.
func (f *factory) App() (*app, error) {
	f.once.Do(func() {
		f.app, f.appErr = newApp(f.io)
		if f.app != nil {
			f.app.hosted = f.hosted
		}
	})
	return f.app, f.appErr
}

func (f *factory) close() {
	if f.app != nil {
		f.app.close()
	}
}
