using Extip.Cli.Commands;

return await CommandLine.Build().Parse(args).InvokeAsync();
