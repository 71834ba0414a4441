using System.CommandLine;
using Extip.Cli.Commands;

// SIGTERM gives commands time to clean up (an agent removes its addresses and releases its Lease).
return await CommandLine.Build().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(25) });
