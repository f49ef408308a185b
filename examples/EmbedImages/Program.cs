// Embeds the JPEG and PNG images of a folder with a pretrained backbone, one line per image:
//   dotnet run -- resnet50.pth photos/                      (the official VICReg ResNet-50)
//   dotnet run -- backbone.safetensors photos/ resnet18 cifar 0.25
using System.Globalization;
using Vicreg.Engine.Inference;
using Vicreg.Engine.Models;

if (args.Length is < 2 or > 5)
{
    Console.Error.WriteLine("usage: EmbedImages WEIGHTS FOLDER [ARCH [STEM [WIDTH]]]  (default: resnet50 imagenet 1)");
    return 2;
}
try
{
    var spec = new BackboneSpec(
        Arch: args.Length > 2 ? args[2] : "resnet50",
        Stem: args.Length > 3 ? ResNetStems.Parse(args[3]) : ResNetStem.Imagenet,
        Width: args.Length > 4 ? double.Parse(args[4], CultureInfo.InvariantCulture) : 1);
    using var embedder = Embedder.Load(args[0], spec);
    Console.WriteLine(embedder.LoadReport);
    var images = embedder.EmbedImages([args[1]]); // the evaluation transform of photographs: Resize 256, CenterCrop 224
    for (int i = 0; i < images.Count; i++)
    {
        var first = images.Rows[i].Take(4).Select(v => v.ToString("F4", CultureInfo.InvariantCulture));
        Console.WriteLine($"{images.Files[i]}\t[{string.Join(", ", first)}, ...] ({images.Rows[i].Length} features)");
    }
    foreach (var skipped in images.Skipped) Console.WriteLine($"{skipped.File}\tskipped: {skipped.Reason}");
    return 0;
}
catch (Exception e) // every bad input (a missing file, weights of another network, no image) is a one-line message
{
    Console.Error.WriteLine($"EmbedImages: {e.Message}");
    return 2;
}
