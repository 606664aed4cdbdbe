using System.CommandLine;
using Surge.CarrierSim;

return await CarrierSimCommand.Create().Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(10) });
