// Command compose-check loads a Compose file the way Docker Compose v2 does (compose-go: interpolation
// from an env file, validation against the official compose-spec JSON schema, normalization) and
// prints the resulting project as JSON, so that tests can check it without a Docker engine.
//
//	compose-check -file docker-compose.yml -env-file .env.example
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/compose-spec/compose-go/v2/cli"
)

func main() {
	file := flag.String("file", "docker-compose.yml", "Compose file to load")
	envFile := flag.String("env-file", "", "env file used for interpolation (as .env would be)")
	flag.Parse()

	workingDir, err := filepath.Abs(filepath.Dir(*file))
	if err != nil {
		fail(err)
	}
	opts := []cli.ProjectOptionsFn{
		cli.WithWorkingDirectory(workingDir),
		cli.WithName("parley"),
		cli.WithOsEnv,
	}
	if *envFile != "" {
		opts = append(opts, cli.WithEnvFiles(*envFile), cli.WithDotEnv)
	}
	options, err := cli.NewProjectOptions([]string{*file}, opts...)
	if err != nil {
		fail(err)
	}
	project, err := options.LoadProject(context.Background())
	if err != nil {
		fail(err)
	}
	out, err := json.MarshalIndent(project, "", "  ")
	if err != nil {
		fail(err)
	}
	fmt.Println(string(out))
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "compose-check:", err)
	os.Exit(1)
}
