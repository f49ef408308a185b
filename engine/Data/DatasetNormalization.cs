namespace Vicreg.Engine.Data;

/// <summary>Per-channel mean and std used by Normalize for each dataset (training-set statistics).</summary>
public readonly record struct DatasetNormalization(float[] Mean, float[] Std)
{
    /// <summary>ImageNet's (RGB), torchvision's values: photographs.</summary>
    public static DatasetNormalization ImageNet => new([0.485f, 0.456f, 0.406f], [0.229f, 0.224f, 0.225f]);
    /// <summary>Fashion-MNIST's (gray).</summary>
    public static DatasetNormalization FashionMnist => new([0.2860f], [0.3530f]);
    /// <summary>MNIST's (gray).</summary>
    public static DatasetNormalization Mnist => new([0.1307f], [0.3081f]);
    /// <summary>CIFAR-10's (RGB).</summary>
    public static DatasetNormalization Cifar10 => new([0.4914f, 0.4822f, 0.4465f], [0.2470f, 0.2435f, 0.2616f]);
    /// <summary>CIFAR-100's (RGB).</summary>
    public static DatasetNormalization Cifar100 => new([0.5071f, 0.4865f, 0.4409f], [0.2673f, 0.2564f, 0.2762f]);

    /// <summary>The channels it normalizes (1 or 3).</summary>
    public int Channels => Mean.Length;
}
