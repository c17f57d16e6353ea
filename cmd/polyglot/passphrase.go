package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"polyglot/keystore"
)

func newPassphraseCmd(f *factory) *cobra.Command {
	var newFile string
	cmd := &cobra.Command{
		Use:   "passphrase [--new-passphrase-file FILE]",
		Short: "Change the passphrase of the encrypted secrets file",
		Long: `Puts the secrets file ($XDG_DATA_HOME/polyglot/secrets.age) under a new
passphrase: a new random key, kept in secrets.key.age under the new
passphrase, and the secrets re-encrypted to it; a crash at any point leaves
a pair the old or the new passphrase opens. The current passphrase comes from
POLYGLOT_PASSPHRASE_FILE or a prompt; the new one from --new-passphrase-file
or a prompt (asked twice). A wrong current passphrase changes nothing.

Restart any other running polyglot afterwards: it keeps the secrets it has
but cannot save new ones until it unlocks with the new passphrase.
Secrets kept in the OS keyring have no Polyglot passphrase.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			a, err := f.App()
			if err != nil {
				return err
			}
			return a.changePassphrase(newFile)
		},
	}
	cmd.Flags().StringVar(&newFile, "new-passphrase-file", "", "read the new passphrase from FILE (one trailing newline is stripped)")
	return cmd
}

func (a *app) changePassphrase(newFile string) error {
	cfg, err := a.loadConfig()
	if err != nil {
		return err
	}
	path := filepath.Join(a.paths.Data, keystore.FileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return withCode(exitUsage, errors.New("there is no secrets file yet: its passphrase is chosen when the first account is added"))
	}
	// The core keeps the keystore open under the old passphrase; it is
	// not asked to change it.
	if err := a.ownDataDir(": it keeps the keystore open, and `polyglot passphrase` does not run through it; stop it first"); err != nil {
		return err
	}
	ks, err := a.openKeystore(cfg)
	if err != nil {
		return err
	}
	pc, ok := ks.(keystore.PassphraseChanger)
	if !ok {
		return withCode(exitUsage, fmt.Errorf("your secrets are in the %s, which has no Polyglot passphrase (set keystore = \"file\" in config.toml to use the encrypted file)", ks))
	}
	pass, err := newPassphrase(newFile)
	if err != nil {
		return withCode(exitUsage, err)
	}
	defer clear(pass)
	if err := pc.ChangePassphrase(pass); err != nil {
		return err
	}
	a.log.Info().Msg("keystore: passphrase changed")
	fmt.Fprintln(a.io.out, "passphrase changed; restart any other running polyglot")
	return nil
}

// newPassphrase reads the new passphrase from file, or asks twice on the
// terminal.
func newPassphrase(file string) ([]byte, error) {
	if file != "" {
		return keystore.ReadPassphraseFile(file)
	}
	p, err := askTTY("", "New keystore passphrase: ", true)
	if errors.Is(err, errNoTTY) {
		return nil, fmt.Errorf("%w to ask for the new passphrase: use --new-passphrase-file", err)
	}
	return p, err
}
