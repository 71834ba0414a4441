using BenchmarkDotNet.Running;

// dotnet run -c Release --project bench/Extip.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
